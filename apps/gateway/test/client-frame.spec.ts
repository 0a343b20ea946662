/**
 * parseClientFrame: an `ack` of one id, as the SDK writes it, is read from its bytes; every other
 * frame goes through JSON.parse. Both ways must give exactly what the protocol says.
 */
import { parseClientFrame } from '../src/frames/client-frame';

const parse = (text: string) => parseClientFrame(Buffer.from(text), false);
const ackOf = (ids: unknown[]) => JSON.stringify({ type: 'ack', ids });

it('reads an ack of one id as written by JSON.stringify: the id itself, any id a client may send', () => {
  const ids = ['m-1', '0f8fad5b-d9cb-469f-a165-70867728950e', 'x'.repeat(128), 'a b', "~!@#$%^&*()[]{}'", ']}', '{"type":"ack"'];
  for (const id of ids) expect(parse(ackOf([id]))).toEqual({ type: 'ack', ids: [id] });
});

it('gives the same ids as JSON for what the bytes cannot be taken as: escapes, non-ASCII, other layouts', () => {
  // An escape is decoded, not taken as written.
  expect(parse('{"type":"ack","ids":["a\\u0041"]}')).toEqual({ type: 'ack', ids: ['aA'] });
  expect(parse('{"type":"ack","ids":["a\\u0041\\"\\\\"]}')).toEqual({ type: 'ack', ids: ['aA"\\'] });
  expect(parse(ackOf(['zoë 用户 🎉']))).toEqual({ type: 'ack', ids: ['zoë 用户 🎉'] });
  expect(parse(ackOf(['a\u007f']))).toEqual({ type: 'ack', ids: ['a\u007f'] });
  expect(parse('{ "type": "ack", "ids": [ "m-1" ] }')).toEqual({ type: 'ack', ids: ['m-1'] });
  expect(parse('{"ids":["m-1"],"type":"ack"}')).toEqual({ type: 'ack', ids: ['m-1'] });
  expect(parse(ackOf(['m-1', 'm-2']))).toEqual({ type: 'ack', ids: ['m-1', 'm-2'] });
});

it('refuses what JSON or the protocol refuses, however close to an ack of one id it looks', () => {
  const tooLong = { code: 'INVALID_FRAME', message: expect.stringContaining('ack needs') };
  expect(parse(ackOf(['x'.repeat(129)]))).toEqual(tooLong);
  expect(parse(ackOf(['']))).toEqual(tooLong);
  // A raw control character is not JSON; nor is anything after the frame.
  expect(parse('{"type":"ack","ids":["a\tb"]}')).toEqual({ code: 'INVALID_JSON' });
  expect(parse('{"type":"ack","ids":["a\nb"]}')).toEqual({ code: 'INVALID_JSON' });
  expect(parse(`${ackOf(['m-1'])}x`)).toEqual({ code: 'INVALID_JSON' });
  expect(parse('{"type":"ack","ids":["m-1"]')).toEqual({ code: 'INVALID_JSON' });
  expect(parse('{"type":"ack","ids":["m-1"]}}')).toEqual({ code: 'INVALID_JSON' });
  expect(parse('{"type":"ack","ids":[""m-1"]}')).toEqual({ code: 'INVALID_JSON' });
  expect(parseClientFrame(Buffer.from(ackOf(['m-1'])), true)).toEqual({ code: 'INVALID_FRAME', message: 'Frames must be text.' });
});
