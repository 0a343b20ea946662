/**
 * The fast-check arbitraries of ingest's HTTP property tests: tokens, user ids, categories, JSON
 * bodies (valid, random, deep, around the size limit), raw texts, content types, Idempotency-Keys
 * and path segments, each weighted towards what the routes accept and the edges around it.
 */
import fc from 'fast-check';
import { CATEGORY_PATTERN, USER_ID_PATTERN, Scope } from '@herald/types';
import { MAX_PAYLOAD_DEPTH } from '../../src/routes/messages';
import { IDEMPOTENCY_KEY, MAX_BODY_BYTES, MAX_RECIPIENTS, MAX_TTL_SECONDS } from './property-stack';
import { TOKEN_KINDS, type TokenChoice, type TokenKind } from './property-tokens';

/** Characters a real HTTP server lets through in a header value (tab, visible ASCII, space, obs-text). */
const headerChar = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }),
  fc.constant(0x09),
  fc.integer({ min: 0x80, max: 0xff }),
).map((code) => String.fromCharCode(code));
export const headerText = (maxLength = 300) => fc.string({ unit: headerChar, maxLength });
/** Any code point, lone surrogates included. */
export const anyText = (maxLength = 40) => fc.string({ unit: 'binary', maxLength });

/** Mostly a token with the route's scope, else any kind, garbage included. */
export const tokenFor = (scope: Scope): fc.Arbitrary<TokenChoice> =>
  fc.record({
    kind: fc.oneof(
      { weight: 7, arbitrary: fc.constantFrom<TokenKind>(scope === Scope.MESSAGES_WRITE ? 'messages' : 'categories', 'both') },
      { weight: 3, arbitrary: fc.constantFrom(...TOKEN_KINDS) },
    ),
    raw: fc.oneof(headerText(), headerText(40).map((t) => `Bearer ${t}`), fc.constantFrom('Bearer', 'Bearer ', 'bearer x.y.z', 'Basic dXNlcjpwYXNz')),
  });

const userIdArb = fc.oneof(fc.constantFrom('u1', 'u2', 'u3', 'alice@example.com', 'x:y.z_1-2'), fc.stringMatching(USER_ID_PATTERN));
export const categoryArb = fc.oneof(fc.constantFrom('news', 'sports', 'c.1:x_y-z'), fc.stringMatching(CATEGORY_PATTERN));
export const jsonArb = fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }));
/** fc.anything() made JSON (undefined, functions and the like become null or vanish, as JSON.stringify does). */
export const anythingJsonText = fc.anything({ maxDepth: 3, withNullPrototype: true, withObjectString: true }).map((v) => JSON.stringify(v) ?? 'null');

/** Arrays or objects nested `depth` deep, built as text (JSON.stringify itself cannot nest this deep). */
export const nestedText = (depth: number, array: boolean) =>
  array ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

/** Nesting depths around MAX_PAYLOAD_DEPTH and far past it (fast-check favours small integers). */
export const depthArb = fc.oneof(
  fc.integer({ min: 0, max: MAX_PAYLOAD_DEPTH + 2 }),
  fc.integer({ min: MAX_PAYLOAD_DEPTH - 2, max: MAX_PAYLOAD_DEPTH + 2 }),
  fc.integer({ min: 3000, max: 10_000 }),
);

const deepJsonText = fc.tuple(depthArb, fc.boolean()).map(([depth, array]) => nestedText(depth, array));

/** A string payload whose body ends up around MAX_BODY_BYTES, on either side of it. */
const bigJsonText = fc.integer({ min: MAX_BODY_BYTES - 200, max: MAX_BODY_BYTES + 200 }).map((n) => JSON.stringify('x'.repeat(n)));

const payloadText = fc.oneof(
  { weight: 12, arbitrary: jsonArb.map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: deepJsonText },
  { weight: 1, arbitrary: bigJsonText },
);

const ttlText = fc
  .oneof(
    { weight: 12, arbitrary: fc.integer({ min: 60, max: MAX_TTL_SECONDS }) },
    { weight: 1, arbitrary: fc.integer({ min: -5, max: MAX_TTL_SECONDS + 5 }) },
    { weight: 1, arbitrary: fc.double() },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(1.5, 1e308, -0, 0, 2 ** 53, '60', true, null, [60], { s: 60 }) },
    { weight: 1, arbitrary: jsonArb },
  )
  .map((v) => JSON.stringify(v) ?? 'null');

const userIdsText = fc
  .oneof(
    { weight: 8, arbitrary: fc.uniqueArray(userIdArb, { minLength: 1, maxLength: MAX_RECIPIENTS }) },
    { weight: 1, arbitrary: fc.array(fc.oneof(userIdArb, fc.constantFrom('u1')), { maxLength: MAX_RECIPIENTS + 2 }) },
    { weight: 1, arbitrary: fc.array(anyText(), { maxLength: 3 }) },
    { weight: 1, arbitrary: jsonArb },
  )
  .map((v) => JSON.stringify(v));

const categoryText = fc
  .oneof({ weight: 8, arbitrary: categoryArb }, { weight: 1, arbitrary: anyText() }, { weight: 1, arbitrary: jsonArb })
  .map((v) => JSON.stringify(v));

/** An object as [key, value text] pairs: keys from the real fields plus junk, some repeated. */
type Fields = Array<[string, string]>;
const objectText = (fields: Fields) => `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;

const validFields: fc.Arbitrary<Fields> = fc.oneof(
  fc.tuple(userIdsText, payloadText, fc.option(ttlText, { nil: undefined })).map(([u, p, t]): Fields => [
    ['userIds', u],
    ['payload', p],
    ...(t === undefined ? [] : [['ttlSeconds', t] as [string, string]]),
  ]),
  fc.tuple(categoryText, payloadText).map(([c, p]): Fields => [
    ['category', c],
    ['payload', p],
  ]),
);

const randomFields: fc.Arbitrary<Fields> = fc
  .tuple(
    fc.record(
      { userIds: userIdsText, category: categoryText, payload: payloadText, ttlSeconds: ttlText },
      { requiredKeys: [] },
    ),
    fc.array(
      fc.tuple(
        fc.oneof(anyText(12), fc.constantFrom('__proto__', 'constructor', 'prototype', 'userids', 'userIds', 'payload', '')),
        jsonArb.map((v) => JSON.stringify(v)),
      ),
      { maxLength: 2 },
    ),
  )
  .chain(([known, junk]) => fc.shuffledSubarray([...Object.entries(known), ...junk], { minLength: 0 }));

/** Bodies that parse as JSON (anything from valid messages to junk). */
export const jsonBodyText = fc.oneof(
  { weight: 7, arbitrary: validFields.map(objectText) },
  { weight: 3, arbitrary: randomFields.map(objectText) },
  { weight: 1, arbitrary: jsonArb.map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: anythingJsonText },
);

/** Texts sent as application/json that are mostly not JSON at all. */
export const rawBodyText = fc.oneof(
  anyText(200),
  headerText(200),
  fc.json().chain((text) => fc.integer({ min: 0, max: text.length }).map((cut) => text.slice(0, cut))),
  validFields.map(objectText).chain((text) =>
    fc.tuple(fc.integer({ min: 0, max: text.length }), anyText(3)).map(([at, junk]) => text.slice(0, at) + junk + text.slice(at)),
  ),
  fc.constantFrom(
    '',
    ' ',
    'null',
    'undefined',
    '{',
    '{"userIds":',
    '[]',
    '"text"',
    '\uFEFF{"userIds":["u1"],"payload":1}',
    '{"userIds":["u1"],"payload":1,"userIds":["u2"]}',
    '{"__proto__":{"polluted":1},"userIds":["u1"],"payload":1}',
    '{"constructor":{"prototype":{"polluted":1}},"userIds":["u1"],"payload":1}',
    '{"userIds":["u1"],"payload":{"__proto__":{"polluted":1}}}',
    `{"userIds":["u1"],"payload":${'['.repeat(50_000)}`,
  ),
);

const CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/jsonx',
  'application/json-patch+json',
  'application/octet-stream',
  'json',
  '',
  ';',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'Application/JSON',
  'application/json;',
  'application/json; charset=utf-8',
];
export const contentTypeArb = fc.oneof(
  fc.constantFrom<string | undefined>(undefined, ...CONTENT_TYPES),
  headerText(60),
);

export const idempotencyKeyArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('a1', 'a2', 'a3') },
  { weight: 2, arbitrary: headerText(300) },
  { weight: 1, arbitrary: fc.stringMatching(IDEMPOTENCY_KEY) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', 'a b', 'x'.repeat(255), 'x'.repeat(256), 'é', '\t') },
);

/** A small pool of good bodies, so Idempotency-Keys get reused with the same and with other bodies. */
const POOLED_BODIES = [
  '{"userIds":["u1","u2"],"payload":{"n":1}}',
  '{"userIds":["u1","u2"],"payload":{"n":1},"ttlSeconds":600}',
  '{"userIds":["u3"],"payload":"hi","ttlSeconds":120}',
  '{"category":"news","payload":[1,2,3]}',
];
export const pooledBody = fc.constantFrom(...POOLED_BODIES);
/** Mostly each pooled key with "its" body (replays), sometimes with another (reuse), sometimes anything. */
export const keyedBody = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: POOLED_BODIES.length - 1 }).map((i) => ({ key: `k${i + 1}`, text: POOLED_BODIES[i] })) },
  { weight: 2, arbitrary: fc.record({ key: idempotencyKeyArb, text: pooledBody }) },
  { weight: 1, arbitrary: fc.record({ key: idempotencyKeyArb, text: jsonBodyText }) },
);

/** Percent-encodes every byte, so any text or byte string becomes a single path segment. */
function percentEncode(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');
}

/** Like encodeURIComponent, but lone surrogates become U+FFFD instead of throwing. */
function encodeSegment(text: string): string {
  return Array.from(Buffer.from(text, 'utf8'), (b) =>
    /[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0').toUpperCase()}`,
  ).join('');
}

/** A path segment as it goes on the wire. */
export const segmentArb = fc.oneof(
  { weight: 10, arbitrary: userIdArb.map(encodeSegment) },
  { weight: 3, arbitrary: anyText(60).map(encodeSegment) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }).map(encodeSegment) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 40 }).map(percentEncode) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '%',
      '%zz',
      '%E0%A4',
      '%C0%80',
      '%ED%A0%80',
      '%00',
      '.',
      '..',
      '%2e%2e',
      'a%2Fb',
      'a%3Fb',
      'a%23b',
      'x'.repeat(128),
      'x'.repeat(129),
      'x'.repeat(600),
      encodeSegment('é'.repeat(100)),
    ),
  },
);
