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

describe('times', () => {
  /** What isoTime did before its fast path for times already in toISOString's form: a Date there and back. */
  const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
  const throughDate = (value: string): string | undefined => {
    if (!ISO_DATE_TIME.test(value)) return undefined;
    const time = new Date(value);
    const year = time.getUTCFullYear();
    return Number.isNaN(time.getTime()) || year < 1 || year > 9999 ? undefined : time.toISOString();
  };
  const pad = (n: number, width: number) => String(n).padStart(width, '0');

  it('reads every time as a Date there and back would, calendar edges included', () => {
    const times: string[] = [];
    // Every day number 0-32 of every month 0-13, in common, leap, century and 400th years, and the year 0.
    for (const year of [0, 1, 1900, 2000, 2023, 2024, 2100, 9999]) {
      for (let month = 0; month <= 13; month++) {
        for (let day = 0; day <= 32; day++) times.push(`${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T12:34:56.789Z`);
      }
    }
    // Hours, minutes and seconds at and past their ends; other forms the slow path takes.
    for (const clock of ['00:00:00.000', '23:59:59.999', '24:00:00.000', '23:60:00.000', '23:59:60.000', '19:05:07.1', '19:05:07']) {
      times.push(`2024-02-29T${clock}Z`, `2024-02-29T${clock}+02:00`, `9999-12-31T${clock}-01:00`);
    }
    // toISOString's own output over the stored years, and forms with a different length.
    for (let i = 0; i < 2000; i++) times.push(new Date(Date.UTC(1, 0, 1) + Math.floor(Math.random() * 3.15e14)).toISOString());
    times.push('2024-02-29T12:34:56.789Z ', ' 2024-02-29T12:34:56.789Z', '2024-2-29T12:34:56.789Z', '+002024-02-29T12:34:56.789Z', '2024-02-29t12:34:56.789z');

    const differing = times.filter((time) => {
      const parsed = parseExposure(body({ ...valid, deliveredAt: time }));
      return (parsed.ok ? parsed.event.deliveredAt : undefined) !== throughDate(time);
    });
    expect(differing).toEqual([]);
    // The canonical form is kept as it came; another form of the same time becomes it.
    expect(parseExposure(body({ ...valid, deliveredAt: '2024-02-29T23:59:59.999Z' }))).toMatchObject({ event: { deliveredAt: '2024-02-29T23:59:59.999Z' } });
    expect(parseExposure(body({ ...valid, deliveredAt: '2023-02-29T10:00:00.000Z' }))).toMatchObject({ event: { deliveredAt: '2023-03-01T10:00:00.000Z' } });
  });
});
