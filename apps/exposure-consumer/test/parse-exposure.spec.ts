/** The exposure event shape the consumer accepts (Contract), and how refused bodies are kept. */
import { MAX_EVENT_BYTES, parseExposure, storableText } from '../src/ingest/parse-exposure';
import { decodeCursor, encodeCursor } from '../src/routes/cursor';

const valid = {
  eventId: 'evt-1',
  messageId: 'msg-1',
  userId: 'user-1',
  category: 'news',
  sessionId: 'session-1',
  gatewayId: 'gw-1',
  deliveredAt: '2031-05-01T10:00:00.123Z',
  via: 'offline',
};
const body = (value: unknown) => Buffer.from(JSON.stringify(value));

test('accepts the Contract shape, with a null category and ignoring unknown fields', () => {
  expect(parseExposure(body(valid))).toEqual({ ok: true, event: valid });
  expect(parseExposure(body({ ...valid, category: null, extra: 1 }))).toEqual({ ok: true, event: { ...valid, category: null } });
});

test('normalises deliveredAt to UTC with millisecond precision', () => {
  const parsed = parseExposure(body({ ...valid, deliveredAt: '2031-05-01T12:00:00.123456+02:00' }));
  expect(parsed).toEqual({ ok: true, event: { ...valid, deliveredAt: '2031-05-01T10:00:00.123Z' } });
});

test.each([
  ['eventId', { eventId: '' }],
  ['messageId', { messageId: 42 }],
  ['sessionId', { sessionId: undefined }],
  ['gatewayId', { gatewayId: 'g'.repeat(201) }],
  ['userId', { userId: 'not a user id' }],
  ['category', { category: 'a/b' }],
  ['category', { category: undefined }],
  ['via', { via: 'push' }],
  ['deliveredAt', { deliveredAt: '2031-05-01' }],
  ['deliveredAt', { deliveredAt: '2031-13-45T10:00:00Z' }],
  ['deliveredAt', { deliveredAt: 1_700_000_000_000 }],
])('refuses a bad %s', (field, change) => {
  const parsed = parseExposure(body({ ...valid, ...change }));
  expect(parsed.ok).toBe(false);
  expect(!parsed.ok && parsed.reason).toContain(field);
});

test('refuses non-JSON, non-objects and oversized bodies', () => {
  expect(parseExposure(Buffer.from('{'))).toEqual({ ok: false, reason: 'body is not JSON' });
  expect(parseExposure(body(null))).toEqual({ ok: false, reason: 'body is not a JSON object' });
  expect(parseExposure(body([valid]))).toEqual({ ok: false, reason: 'body is not a JSON object' });
  const big = body({ ...valid, padding: 'x'.repeat(MAX_EVENT_BYTES) });
  expect(parseExposure(big)).toEqual({ ok: false, reason: expect.stringContaining('over the') });
});

test('dead-letter text keeps UTF-8 as is and anything Postgres text cannot hold as base64', () => {
  expect(storableText(Buffer.from('héllo'))).toBe('héllo');
  expect(storableText(Buffer.from([0x61, 0x00]))).toBe('base64:YQA=');
  expect(storableText(Buffer.from([0xff, 0xfe]))).toBe('base64://4=');
});

test('a cursor round-trips and a tampered one is INVALID_CURSOR', () => {
  const position = { deliveredAt: '2031-05-01T10:00:00.123Z', eventId: 'evt-1' };
  expect(decodeCursor(encodeCursor(position))).toEqual(position);
  const tampered = Buffer.from(JSON.stringify([1, '2031-05-01T10:00:00.123+00:00', 'evt-1'])).toString('base64url');
  expect(() => decodeCursor(tampered)).toThrow(expect.objectContaining({ code: 'INVALID_CURSOR', status: 400 }));
});

describe('values Postgres cannot store', () => {
  const base = {
    eventId: 'e1',
    messageId: 'm1',
    userId: 'u1',
    category: null,
    sessionId: 's1',
    gatewayId: 'g1',
    deliveredAt: '2026-11-26T00:00:00.000Z',
    via: 'live',
  };
  const parse = (over: object) => parseExposure(Buffer.from(JSON.stringify({ ...base, ...over })));

  it('refuses a NUL in an id and a deliveredAt outside the years 0001-9999, so the batch is not stuck', () => {
    expect(parse({})).toMatchObject({ ok: true });
    expect(parse({ eventId: 'e\u0000' })).toMatchObject({ ok: false, reason: expect.stringMatching(/eventId/) });
    expect(parse({ messageId: '\u0000' })).toMatchObject({ ok: false });
    expect(parse({ deliveredAt: '0000-01-01T00:00:00Z' })).toMatchObject({ ok: false, reason: expect.stringMatching(/0001 to 9999/) });
    expect(parse({ deliveredAt: '9999-12-31T23:59:59-23:59' })).toMatchObject({ ok: false, reason: expect.stringMatching(/0001 to 9999/) });
  });
});
