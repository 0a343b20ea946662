/**
 * The seed and the fast-check arbitraries of the analyst API's property tests
 * (http.property.spec.ts): tokens, dates, numbers, cursors (real, forged and junk) and whole query
 * strings with real and junk keys, repeated keys and broken percent-encoding.
 */
import fc from 'fast-check';
import { CATEGORY_PATTERN, USER_ID_PATTERN, type ExposureEvent } from '@herald/types';
import { MAX_STATS_LIMIT } from '../../src/routes/exposure-schemas';
import { seedEvents } from './fixtures';

// ---------------------------------------------------------------------------------------------
// The seed: 40 events over a few hours (ties on deliveredAt included). The spec stores them.

const T0 = Date.UTC(2031, 4, 1, 10, 0, 0);
export const events: ExposureEvent[] = seedEvents(40, 4, (i) => ({
  category: i % 3 === 0 ? null : i % 2 ? 'news' : 'sports',
  deliveredAt: new Date(T0 + Math.floor(i / 2) * 17 * 60_000).toISOString(),
}));
/** nextCursor values the API really returned, gathered by the spec in beforeAll. */
export const realCursors: string[] = [];

// ---------------------------------------------------------------------------------------------
// Arbitraries

export type TokenKind = 'analyst' | 'otherScope' | 'none' | 'garbage';
export const tokenArb = fc.oneof(
  { weight: 9, arbitrary: fc.constant<TokenKind>('analyst') },
  { weight: 1, arbitrary: fc.constantFrom<TokenKind>('otherScope', 'none', 'garbage') },
);

/** Any code point, lone surrogates included. */
const anyText = (maxLength = 40) => fc.string({ unit: 'binary', maxLength });

const pad = (n: number, width: number) => String(Math.abs(n)).padStart(width, '0');

/** Well-formed date-times at the ends of years 0000-9999, where a zone offset can push the instant out of range. */
export const edgeDateText = fc
  .record({
    year: fc.constantFrom(0, 1, 9998, 9999),
    date: fc.constantFrom('01-01', '12-31', '02-29'),
    time: fc.constantFrom('00:00:00', '23:59:59', '12:00:00.999'),
    zone: fc.constantFrom('Z', '+00:00', '+01:00', '-01:00', '+23:59', '-23:59'),
  })
  .map(({ year, date, time, zone }) => `${pad(year, 4)}-${date}T${time}${zone}`);

/** Date-time texts: valid near the seed, any JS date (six-digit years too), field by field out of range, junk. */
export const dateText = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: T0 - 3_600_000, max: T0 + 12 * 3_600_000 }).map((ms) => new Date(ms).toISOString()) },
  { weight: 2, arbitrary: fc.integer({ min: -8.64e15, max: 8.64e15 }).map((ms) => new Date(ms).toISOString()) },
  {
    weight: 3,
    arbitrary: fc
      .record({
        year: fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(0, 1, 1969, 1970, 9999)),
        month: fc.integer({ min: 0, max: 13 }),
        day: fc.integer({ min: 0, max: 32 }),
        hour: fc.integer({ min: 0, max: 25 }),
        minute: fc.integer({ min: 0, max: 61 }),
        second: fc.integer({ min: 0, max: 61 }),
        fraction: fc.constantFrom('', '.5', '.123', '.123456789', '.1234567891'),
        sep: fc.constantFrom('T', 't', ' '),
        zone: fc.constantFrom('Z', 'z', '+00:00', '-00:00', '+01:00', '-23:59', '+23:59', '+24:00', '+05:30', '+0530', '+05', ''),
      })
      .map(({ year, month, day, hour, minute, second, fraction, sep, zone }) =>
        `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}${sep}${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}${fraction}${zone}`,
      ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '0000-01-01T00:00:00Z',
      '0000-01-01T00:00:00+01:00',
      '0001-01-01T00:00:00Z',
      '0001-01-01T00:00:00+01:00',
      '9999-12-31T23:59:59Z',
      '9999-12-31T23:59:59-23:59',
      '2016-12-31T23:59:60Z',
      '2024-02-29T00:00:00Z',
      '2023-02-29T00:00:00Z',
      '2024-01-01',
      '2024-01-01T00:00:00',
      '+275760-09-13T00:00:00.000Z',
      '-271821-04-20T00:00:00.000Z',
      '-000001-01-01T00:00:00.000Z',
      'now',
      'today',
      '1714557600',
      '',
    ),
  },
  { weight: 5, arbitrary: edgeDateText },
  { weight: 1, arbitrary: anyText(30) },
);

const numberText = fc.oneof(
  fc.integer({ min: 1, max: 50 }).map(String),
  fc.integer({ min: -5, max: MAX_STATS_LIMIT + 5 }).map(String),
  fc.integer().map(String),
  fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map(String),
  fc.double().map(String),
  fc.constantFrom('1e309', '1e3', '1e-3', '0x10', '0b11', '0o7', 'NaN', 'Infinity', '-Infinity', '-0', ' 5', '5 ', '', '+5', '٣', '1_000', '00010', '1.0', '10.5', 'true', 'null', '[]'),
);

const base64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

export const cursorArb = fc.oneof(
  // Read at generation time: realCursors is filled in beforeAll.
  { weight: 3, arbitrary: fc.nat().map((i) => realCursors[i % realCursors.length]) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.constantFrom<unknown>(1, 1, 1, 0, 2, '1', null),
        fc.oneof(
          { weight: 3, arbitrary: fc.integer({ min: -8.64e15, max: 8.64e15 }).map((ms) => new Date(ms).toISOString()) },
          { weight: 2, arbitrary: edgeDateText.map((d) => new Date(d).toISOString()) },
          { weight: 2, arbitrary: fc.constantFrom(...events.map((e) => e.deliveredAt)) },
          { weight: 1, arbitrary: dateText },
          { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
        ),
        fc.oneof(fc.constantFrom(...events.map((e) => e.eventId)), anyText(20), fc.constantFrom('', 'a\u0000b', '\u0000'), fc.jsonValue({ maxDepth: 1 })),
      )
      .map((position) => base64url(JSON.stringify(position))),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => base64url(JSON.stringify(v))) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/) },
  { weight: 1, arbitrary: anyText(30) },
  { weight: 1, arbitrary: fc.constantFrom('A'.repeat(1024), 'A'.repeat(1025), '====', 'Zm9v', '') },
);

/** The query keys each route takes (groupBy, required by /stats, is added on its own). */
const LIST_KEYS = ['messageId', 'userId', 'category', 'from', 'to', 'limit', 'cursor'];
const STATS_KEYS = ['from', 'to', 'limit'];

const anyValue = fc.oneof(anyText(), numberText, dateText, cursorArb);

function valueFor(key: string): fc.Arbitrary<string> {
  switch (key) {
    case 'messageId':
      return fc.oneof(
        fc.constantFrom('m0', 'm1', 'm3', 'x'.repeat(200), 'x'.repeat(201)),
        fc.constantFrom('\u0000', 'm0\u0000', 'a\u0000b'),
        anyText(60),
      );
    case 'userId':
      return fc.oneof(fc.constantFrom('u0', 'u4'), fc.stringMatching(USER_ID_PATTERN), anyText());
    case 'category':
      return fc.oneof(fc.constantFrom('news', 'sports'), fc.stringMatching(CATEGORY_PATTERN), anyText());
    case 'from':
    case 'to':
      return dateText;
    case 'limit':
      return numberText;
    case 'cursor':
      return cursorArb;
    case 'groupBy':
      return fc.oneof({ weight: 4, arbitrary: fc.constantFrom('message', 'category', 'hour') }, { weight: 1, arbitrary: anyText(12) });
    default:
      return anyValue;
  }
}

const keyArb = (known: string[]) =>
  fc.oneof(
    { weight: 24, arbitrary: fc.constantFrom(...known) },
    { weight: 1, arbitrary: anyText(12) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'limit[]', 'from[0]', '', 'LIMIT', 'groupBy', 'groupby', 'cursor'),
    },
  );

/** Like encodeURIComponent, but lone surrogates become U+FFFD instead of throwing. */
function encode(text: string): string {
  return Array.from(Buffer.from(text, 'utf8'), (b) =>
    /[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0').toUpperCase()}`,
  ).join('');
}

/** One `key=value` as it goes on the wire: encoded, as raw bytes (invalid UTF-8 too), bare, or half-encoded. */
const pairArb = (known: string[]) =>
  keyArb(known).chain((key) =>
    fc.oneof(
      { weight: 16, arbitrary: fc.oneof({ weight: 4, arbitrary: valueFor(key) }, { weight: 1, arbitrary: anyValue }).map((v) => `${encode(key)}=${encode(v)}`) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 12 }).map((bytes) => `${encode(key)}=${Array.from(bytes, (b) => `%${b.toString(16).padStart(2, '0')}`).join('')}`) },
      { weight: 1, arbitrary: fc.constant(encode(key)) },
      { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...'Aa0%+=&._~-zZ'), maxLength: 12 }).map((raw) => `${encode(key)}=${raw}`) },
    ),
  );

export const queryArb = (stats: boolean) =>
  fc
    .tuple(
      stats
        ? fc.oneof({ weight: 9, arbitrary: valueFor('groupBy').map((v) => `groupBy=${encode(v)}`) }, { weight: 1, arbitrary: fc.constant(undefined) })
        : fc.constant(undefined),
      fc.array(pairArb(stats ? STATS_KEYS : LIST_KEYS), { maxLength: 4 }),
      fc.constantFrom('?', '?', '?', '?', '?', '?', '?', '?', '??', '?&'),
    )
    .map(([groupBy, pairs, mark]) => {
      const all = groupBy === undefined ? pairs : [groupBy, ...pairs];
      return all.length === 0 ? '' : `${mark}${all.join('&')}`;
    });

