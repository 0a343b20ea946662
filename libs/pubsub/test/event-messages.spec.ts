/**
 * The events topic's format (event-messages.ts): events packed by kind into messages of at most
 * `perMessage`, read back one by one; a message of one event is the format before packing; a
 * message whose lines do not match its count is refused; packed messages compressed when asked
 * (raw DEFLATE, attribute `encoding`), read back the same, and refused when their data is not.
 */
import { randomBytes } from 'node:crypto';
import { deflateRawSync, deflateSync } from 'node:zlib';
import {
  COMPRESS_MIN_BYTES,
  EVENT_COUNT_ATTRIBUTE,
  EVENT_ENCODING_ATTRIBUTE,
  INFLATED_MAX_BYTES,
  eventCount,
  packEvents,
  unpackEvents,
  type OutgoingEvent,
  type OutgoingMessage,
} from '../src';

const exposure = (n: number): OutgoingEvent => ({ data: `{"eventId":"x${n}","via":"live"}` });
const opened = (n: number): OutgoingEvent => ({ data: `{"kind":"opened","eventId":"o${n}"}`, kind: 'opened' });

/** Every event of `messages`, read back as unpackEvents gives them, with the kind each message says. */
function readBack(messages: OutgoingMessage[]): OutgoingEvent[] {
  return messages.flatMap((m) => {
    const unpacked = unpackEvents(Buffer.from(m.data), m.attributes ?? {});
    if (!unpacked.ok) throw new Error(unpacked.reason);
    expect(unpacked.events.length).toBe(eventCount(m.attributes ?? {}));
    const kind = m.attributes?.kind;
    return unpacked.events.map((data) => (kind === undefined ? { data: data.toString() } : { data: data.toString(), kind }));
  });
}

describe('packEvents / unpackEvents', () => {
  test('events of one kind go perMessage to a message, in order, and read back the same', () => {
    const events = Array.from({ length: 250 }, (_, n) => exposure(n));
    const messages = packEvents(events, 100);
    expect(messages.map((m) => m.attributes)).toEqual([{ events: '100' }, { events: '100' }, { events: '50' }]);
    expect(String(messages[2].data).split('\n')).toEqual(events.slice(200).map((e) => e.data));
    expect(readBack(messages)).toEqual(events);
  });

  test('kinds are packed apart, each message with its kind; within a kind the order holds', () => {
    const events = [exposure(0), opened(0), exposure(1), opened(1), opened(2), exposure(2)];
    const messages = packEvents(events, 10);
    expect(messages).toEqual([
      { data: [0, 1, 2].map((n) => exposure(n).data).join('\n'), attributes: { events: '3' } },
      { data: [0, 1, 2].map((n) => opened(n).data).join('\n'), attributes: { events: '3', kind: 'opened' } },
    ]);
    expect(readBack(messages)).toEqual([exposure(0), exposure(1), exposure(2), opened(0), opened(1), opened(2)]);
  });

  test('a message of one event is the format before packing: no count, the whole data', () => {
    expect(packEvents([exposure(0), opened(0)], 100)).toEqual([{ data: exposure(0).data }, { data: opened(0).data, attributes: { kind: 'opened' } }]);
    // perMessage 1: every event alone, as every gateway published before.
    const alone = packEvents([exposure(0), exposure(1)], 1);
    expect(alone).toEqual([{ data: exposure(0).data }, { data: exposure(1).data }]);
    expect(unpackEvents(Buffer.from('{"a":1}'), {})).toEqual({ ok: true, events: [Buffer.from('{"a":1}')] });
  });

  test('events packed already (count) stay together, in a message with the events of their kind around them', () => {
    const run = (ns: number[]) => ns.map((n) => exposure(n).data).join('\n');
    const openedRun = [1, 2].map((n) => opened(n).data).join('\n');
    const events: OutgoingEvent[] = [
      exposure(0),
      opened(0),
      { data: run([1, 2, 3]), count: 3 },
      { data: openedRun, kind: 'opened', count: 2 },
      // 4 + 3 would pass perMessage: this run starts the next message.
      { data: run([4, 5, 6]), count: 3 },
      exposure(7),
      // As many as perMessage: alone.
      { data: run([8, 9, 10, 11, 12]), count: 5 },
    ];
    const messages = packEvents(events, 5);
    expect(messages).toEqual([
      { data: run([0, 1, 2, 3]), attributes: { events: '4' } },
      { data: run([4, 5, 6, 7]), attributes: { events: '4' } },
      { data: run([8, 9, 10, 11, 12]), attributes: { events: '5' } },
      { data: [0, 1, 2].map((n) => opened(n).data).join('\n'), attributes: { events: '3', kind: 'opened' } },
    ]);
    expect(readBack(messages)).toEqual([...Array(13).keys()].map(exposure).concat([0, 1, 2].map(opened)));
  });

  test('an event whose text holds a line break goes alone, unpacked', () => {
    const odd: OutgoingEvent = { data: '{\n"eventId":"odd"}' };
    const messages = packEvents([exposure(0), odd, exposure(1)], 10);
    expect(messages).toEqual([{ data: odd.data }, { data: `${exposure(0).data}\n${exposure(1).data}`, attributes: { events: '2' } }]);
    expect(readBack(messages)).toEqual([odd, exposure(0), exposure(1)]);
  });

  test('events given as bytes are packed with the others, and read back the same', () => {
    const run = (ns: number[]) => ns.map((n) => exposure(n).data).join('\n');
    const bytes = (n: number): OutgoingEvent => ({ data: Buffer.from(exposure(n).data) });
    const packedBytes: OutgoingEvent = { data: Buffer.from(run([3, 4])), count: 2 };
    const messages = packEvents([bytes(0), exposure(1), bytes(2), packedBytes, exposure(5)], 10);
    expect(messages).toHaveLength(1);
    expect(Buffer.isBuffer(messages[0].data)).toBe(true);
    expect(messages[0].data.toString()).toBe(run([0, 1, 2, 3, 4, 5]));
    expect(readBack(messages)).toEqual([...Array(6).keys()].map(exposure));
    // Packed bytes that fill a message go as they are.
    const alone = packEvents([{ data: Buffer.from(run([0, 1])), count: 2 }], 2);
    expect(alone).toEqual([{ data: Buffer.from(run([0, 1])), attributes: { events: '2' } }]);
  });

  test('a message stays under a million characters: past it the next one begins', () => {
    const big = (n: number): OutgoingEvent => ({ data: `{"eventId":"b${n}","pad":"${'p'.repeat(300_000)}"}` });
    const messages = packEvents([big(0), big(1), big(2), big(3)], 100);
    expect(messages.map((m) => eventCount(m.attributes ?? {}))).toEqual([3, 1]);
    expect(messages.every((m) => m.data.length <= 1_000_000)).toBe(true);
    expect(readBack(messages)).toEqual([big(0), big(1), big(2), big(3)]);
  });

  test('perMessage must be a count from 1 to 1,000', () => {
    for (const bad of [0, 1001, 2.5, Number.NaN]) expect(() => packEvents([exposure(0)], bad)).toThrow(RangeError);
  });

  test.each([
    ['more lines than it says', 'a\nb\nc', '2', 'says 2 events, the data holds more lines'],
    ['fewer lines than it says', 'a\nb', '3', 'says 3 events, the data holds 2 lines'],
    ['a count that is not one', 'a\nb', '2x', 'is not a count'],
    ['a count of zero', 'a', '0', 'is not a count'],
    ['a count past the most', 'a', '1001', 'is not a count'],
  ])('a message with %s is refused, with the reason', (_, data, count, reason) => {
    const unpacked = unpackEvents(Buffer.from(data), { [EVENT_COUNT_ATTRIBUTE]: count });
    expect(unpacked.ok).toBe(false);
    expect(!unpacked.ok && unpacked.reason).toContain(reason);
  });

  test('eventCount: the count a message claims, 1 without one (or with one that is not a count)', () => {
    expect(eventCount({})).toBe(1);
    expect(eventCount({ kind: 'opened' })).toBe(1);
    expect(eventCount({ events: '37' })).toBe(37);
    expect(eventCount({ events: 'many' })).toBe(1);
    expect(eventCount({ events: '5000' })).toBe(1);
  });

  describe('compression (EVENTS_PUBSUB_COMPRESSION=deflate)', () => {
    /** An exposure as long as a gateway's (~330 bytes): its message's id and the gateway's repeat. */
    const long = (n: number): OutgoingEvent => ({
      data: JSON.stringify({ eventId: `e-${n}`, messageId: 'm-8d9f1c2e-6f0a-4c58-9d0e-3b7a5e2c1f40', category: 'news', via: 'live', gatewayId: 'gw-3f9c1e7a-0b2d-4e6f-8a1c-5d7e9f0b2c4a', pad: 'p'.repeat(150) }),
    });

    test('a packed message of COMPRESS_MIN_BYTES or more goes deflated, with the attribute, and reads back the same', () => {
      const events = Array.from({ length: 40 }, (_, n) => long(n));
      const messages = packEvents(events, 100, 'deflate');
      expect(messages).toHaveLength(1);
      expect(messages[0].attributes).toEqual({ events: '40', [EVENT_ENCODING_ATTRIBUTE]: 'deflate' });
      const plain = events.map((e) => e.data).join('\n');
      expect(messages[0].data.length).toBeLessThan(plain.length / 4);
      expect(readBack(messages)).toEqual(events);
      // Bytes packed already (a gateway's log) and kinds: each message deflated on its own.
      const opens = Array.from({ length: 40 }, (_, n) => ({ ...long(n), kind: 'opened' }));
      const mixed = packEvents([{ data: Buffer.from(plain), count: 40 }, ...opens], 100, 'deflate');
      expect(mixed.map((m) => m.attributes)).toEqual([
        { events: '40', [EVENT_ENCODING_ATTRIBUTE]: 'deflate' },
        { events: '40', kind: 'opened', [EVENT_ENCODING_ATTRIBUTE]: 'deflate' },
      ]);
      expect(readBack(mixed)).toEqual([...events, ...opens]);
    });

    test('small packed messages and single events go as they are; none compresses nothing', () => {
      const few = [long(0), long(1), long(2)];
      expect(few.map((e) => e.data).join('\n').length).toBeLessThan(COMPRESS_MIN_BYTES);
      expect(packEvents(few, 100, 'deflate')).toEqual(packEvents(few, 100));
      const big = { data: JSON.stringify({ eventId: 'alone', pad: 'p'.repeat(COMPRESS_MIN_BYTES * 2) }) };
      expect(packEvents([big], 100, 'deflate')).toEqual([{ data: big.data }]);
      const many = Array.from({ length: 40 }, (_, n) => long(n));
      expect(packEvents(many, 100, 'none')).toEqual(packEvents(many, 100));
      expect(packEvents(many, 100, 'none')[0].attributes).toEqual({ events: '40' });
    });

    test('data that would not shrink goes as it is', () => {
      // Random bytes (not Herald's JSON): deflate would only add its own framing.
      const noise = () => randomBytes(COMPRESS_MIN_BYTES).map((b) => (b === 0x0a ? 0x0b : b));
      const data = Buffer.concat([noise(), Buffer.from('\n'), noise()]);
      const messages = packEvents([{ data, count: 2 }], 10, 'deflate');
      expect(messages[0].data).toBe(data);
      expect(messages[0].attributes).toEqual({ events: '2' });
    });

    test.each([
      ['an encoding Herald does not write', () => Buffer.from('a\nb'), 'gzip', 'is not one Herald writes'],
      ['data that is not raw DEFLATE', () => Buffer.from('a\nb'), 'deflate', 'is not raw DEFLATE'],
      // zlib's header and checksum around the stream: not the raw format the attribute names.
      ['zlib-wrapped data', () => deflateSync('a\nb'), 'deflate', 'is not raw DEFLATE'],
      ['data that inflates past the bound', () => deflateRawSync(Buffer.alloc(INFLATED_MAX_BYTES + 1, 0x61)), 'deflate', `inflates past ${INFLATED_MAX_BYTES} bytes`],
    ])('a message with %s is refused, with the reason', (_, data, encoding, reason) => {
      const unpacked = unpackEvents(data(), { [EVENT_COUNT_ATTRIBUTE]: '2', [EVENT_ENCODING_ATTRIBUTE]: encoding });
      expect(unpacked.ok).toBe(false);
      expect(!unpacked.ok && unpacked.reason).toContain(reason);
    });

    test('a compressed message whose lines do not match its count is refused as an uncompressed one is', () => {
      const unpacked = unpackEvents(deflateRawSync('a\nb\nc'), { [EVENT_COUNT_ATTRIBUTE]: '2', [EVENT_ENCODING_ATTRIBUTE]: 'deflate' });
      expect(!unpacked.ok && unpacked.reason).toContain('says 2 events, the data holds more lines');
    });
  });
});
