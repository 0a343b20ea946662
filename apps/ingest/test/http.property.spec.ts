/**
 * Property-based tests (fast-check) of ingest's HTTP API against a real redis-server. Random
 * bodies, raw texts, content types, path parameters, Idempotency-Key values and tokens; whatever
 * arrives, the answer is a 2xx or a 4xx (never a 5xx), every 4xx carries the Contract error body
 * with the status its code has in the codes table, a refused request leaves Redis exactly as it
 * was, and an accepted one leaves it whole (body stored, id in every inbox once, categories as sent).
 *
 * The Redis check here is stricter than the harness's `expectNoWrites`: it compares every key by
 * DUMP (hashes, sorted sets and streams too, where BullMQ and idempotency records live) and counts
 * every command Redis itself flags `write`, plus publishes and scripts.
 *
 * A failure prints fast-check's seed and counterexample; replay it with `{ seed, path }` in fcOptions.
 */
import Redis from 'ioredis';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { keys } from '@herald/redis';
import { signToken, startRedisServer, type RedisServer } from '@herald/testing';
import { CATEGORY_PATTERN, ErrorCodes, isUserId, USER_ID_PATTERN, Scope, type ErrorCode } from '@herald/types';
import type { Ingest } from '../src/app';
import { MAX_CATEGORIES_PER_USER } from '../src/routes/categories';
import { MAX_PAYLOAD_DEPTH } from '../src/routes/messages';
import { bearer, ingestConfig, startIngest } from './harness';

const MAX_RECIPIENTS = 4;
const MAX_BODY_BYTES = 64 * 1024;
const MAX_TTL_SECONDS = 3600;
const DEFAULT_TTL_SECONDS = 600;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** What ingest accepts as an Idempotency-Key (idempotent.ts). */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
/** Keys this close to expiring may vanish between two snapshots; Redis, not a request, removes them. */
const VOLATILE_MS = 3000;

const fcOptions = { numRuns: 150 };

let server: RedisServer;
let redis: Redis;
let ingest: Ingest;
let writeCommands: Set<string>;

// ---------------------------------------------------------------------------------------------
// Tokens

const TOKEN_KINDS = ['messages', 'categories', 'both', 'user', 'none', 'expired', 'wrongSecret', 'notBearer', 'garbage'] as const;
type TokenKind = (typeof TOKEN_KINDS)[number];
/** The token's `sub`: Idempotency-Keys are per producer. */
const SUBJECTS: Partial<Record<TokenKind, string>> = { messages: 'prop-messages', both: 'prop-both' };
const signed: Partial<Record<TokenKind, string>> = {};

async function signTokens(): Promise<void> {
  signed.messages = await signToken(SUBJECTS.messages, { scope: Scope.MESSAGES_WRITE });
  signed.categories = await signToken('prop-categories', { scope: Scope.CATEGORIES_WRITE });
  signed.both = await signToken(SUBJECTS.both, { scope: `${Scope.CATEGORIES_WRITE} ${Scope.MESSAGES_WRITE}` });
  signed.user = await signToken('prop-user');
  signed.expired = await signToken('prop-expired', {
    scope: `${Scope.CATEGORIES_WRITE} ${Scope.MESSAGES_WRITE}`,
    expiresIn: Math.floor(Date.now() / 1000) - 3600,
  });
  signed.wrongSecret = await signToken('prop-wrong', {
    scope: `${Scope.CATEGORIES_WRITE} ${Scope.MESSAGES_WRITE}`,
    secret: 'not-the-secret-0123456789abcdef0123456789',
  });
}

interface TokenChoice {
  kind: TokenKind;
  /** Authorization header for 'garbage'. */
  raw: string;
}

function authHeader({ kind, raw }: TokenChoice): Record<string, string> {
  switch (kind) {
    case 'none':
      return {};
    case 'garbage':
      return { authorization: raw };
    case 'notBearer':
      return { authorization: signed.both! };
    default:
      return bearer(signed[kind]!);
  }
}

const grants = (kind: TokenKind, scope: Scope): boolean =>
  (kind === 'both' && (scope === Scope.MESSAGES_WRITE || scope === Scope.CATEGORIES_WRITE)) ||
  (kind === 'messages' && scope === Scope.MESSAGES_WRITE) ||
  (kind === 'categories' && scope === Scope.CATEGORIES_WRITE);

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** Characters a real HTTP server lets through in a header value (tab, visible ASCII, space, obs-text). */
const headerChar = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }),
  fc.constant(0x09),
  fc.integer({ min: 0x80, max: 0xff }),
).map((code) => String.fromCharCode(code));
const headerText = (maxLength = 300) => fc.string({ unit: headerChar, maxLength });
/** Any code point, lone surrogates included. */
const anyText = (maxLength = 40) => fc.string({ unit: 'binary', maxLength });

/** Mostly a token with the route's scope, else any kind, garbage included. */
const tokenFor = (scope: Scope): fc.Arbitrary<TokenChoice> =>
  fc.record({
    kind: fc.oneof(
      { weight: 7, arbitrary: fc.constantFrom<TokenKind>(scope === Scope.MESSAGES_WRITE ? 'messages' : 'categories', 'both') },
      { weight: 3, arbitrary: fc.constantFrom(...TOKEN_KINDS) },
    ),
    raw: fc.oneof(headerText(), headerText(40).map((t) => `Bearer ${t}`), fc.constantFrom('Bearer', 'Bearer ', 'bearer x.y.z', 'Basic dXNlcjpwYXNz')),
  });

const userIdArb = fc.oneof(fc.constantFrom('u1', 'u2', 'u3', 'alice@example.com', 'x:y.z_1-2'), fc.stringMatching(USER_ID_PATTERN));
const categoryArb = fc.oneof(fc.constantFrom('news', 'sports', 'c.1:x_y-z'), fc.stringMatching(CATEGORY_PATTERN));
const jsonArb = fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }));
/** fc.anything() made JSON (undefined, functions and the like become null or vanish, as JSON.stringify does). */
const anythingJsonText = fc.anything({ maxDepth: 3, withNullPrototype: true, withObjectString: true }).map((v) => JSON.stringify(v) ?? 'null');

/** Arrays or objects nested `depth` deep, built as text (JSON.stringify itself cannot nest this deep). */
const nestedText = (depth: number, array: boolean) =>
  array ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

/** Nesting depths around MAX_PAYLOAD_DEPTH and far past it (fast-check favours small integers). */
const depthArb = fc.oneof(
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
const jsonBodyText = fc.oneof(
  { weight: 7, arbitrary: validFields.map(objectText) },
  { weight: 3, arbitrary: randomFields.map(objectText) },
  { weight: 1, arbitrary: jsonArb.map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: anythingJsonText },
);

/** Texts sent as application/json that are mostly not JSON at all. */
const rawBodyText = fc.oneof(
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
const contentTypeArb = fc.oneof(
  fc.constantFrom<string | undefined>(undefined, ...CONTENT_TYPES),
  headerText(60),
);

const idempotencyKeyArb = fc.oneof(
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
const pooledBody = fc.constantFrom(...POOLED_BODIES);
/** Mostly each pooled key with "its" body (replays), sometimes with another (reuse), sometimes anything. */
const keyedBody = fc.oneof(
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
const segmentArb = fc.oneof(
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

// ---------------------------------------------------------------------------------------------
// Redis state

interface KeyState {
  dump: string;
  pttl: number;
}
type RedisState = Record<string, KeyState>;

async function exec(pipeline: ReturnType<Redis['pipeline']>): Promise<unknown[]> {
  return ((await pipeline.exec()) ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

/** Every key's serialized value (any type) and remaining TTL. */
async function redisState(): Promise<RedisState> {
  const names = (await redis.keys('*')).sort();
  const pipeline = redis.pipeline();
  for (const key of names) pipeline.dumpBuffer(key).pttl(key);
  const values = await exec(pipeline);
  const state: RedisState = {};
  names.forEach((key, i) => {
    const dump = values[2 * i] as Buffer | null;
    if (dump) state[key] = { dump: dump.toString('base64'), pttl: values[2 * i + 1] as number };
  });
  return state;
}

/** What must not change: each key's content and whether it expires (not the TTL that ticks down). */
function comparable(state: RedisState, volatile: Set<string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(state)
      .filter(([key]) => !volatile.has(key))
      .map(([key, { dump, pttl }]) => [key, `${pttl < 0 ? 'persistent' : 'expiring'} ${dump}`]),
  );
}

/** The names Redis flags as `write` (subcommands as `cmd|sub`), plus publishes and scripts. */
async function loadWriteCommands(): Promise<Set<string>> {
  const names = new Set(['publish', 'spublish', 'eval', 'evalsha', 'fcall']);
  const visit = (entries: unknown[]) => {
    for (const entry of entries as unknown[][]) {
      const [name, , flags] = entry as [string, number, string[]];
      if (flags.includes('write')) names.add(name.toLowerCase());
      if (Array.isArray(entry[9])) visit(entry[9] as unknown[]);
    }
  };
  visit((await redis.call('COMMAND')) as unknown[]);
  return names;
}

async function writeCount(): Promise<number> {
  const info = await redis.info('commandstats');
  let total = 0;
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (writeCommands.has(match[1])) total += Number(match[2]);
  }
  return total;
}

interface Before {
  state: RedisState;
  writes: number;
}

async function before(): Promise<Before> {
  return { state: await redisState(), writes: await writeCount() };
}

/** Redis holds the same data as before (keys about to expire aside). */
async function expectSameData(prior: Before): Promise<void> {
  const after = await redisState();
  const volatile = new Set(Object.keys(prior.state).filter((key) => prior.state[key].pttl >= 0 && prior.state[key].pttl <= VOLATILE_MS));
  expect(comparable(after, volatile)).toEqual(comparable(prior.state, volatile));
}

/** Nothing written: no write command ran and the data is the same. */
async function expectNoWrites(prior: Before): Promise<void> {
  expect(await writeCount()).toBe(prior.writes);
  await expectSameData(prior);
}

// ---------------------------------------------------------------------------------------------
// Responses

/** 2xx or 4xx, and a 4xx is the Contract error body with its code's status. */
function expectContractAnswer(res: LightMyRequestResponse): void {
  if (res.statusCode >= 500 || res.statusCode < 200) throw new Error(`answered ${res.statusCode}: ${res.body}`);
  if (res.statusCode < 400) return;
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body: unknown = JSON.parse(res.body);
  expect(body).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
  const { code } = (body as { error: { code: string } }).error;
  expect(code in ErrorCodes).toBe(true);
  expect(ErrorCodes[code as ErrorCode].status).toBe(res.statusCode);
}

const errorCode = (res: LightMyRequestResponse): string => (JSON.parse(res.body) as { error: { code: string } }).error.code;

// ---------------------------------------------------------------------------------------------
// POST /v1/messages

/** What the test knows of each producer's used Idempotency-Keys: the accepted body and its id. */
const usedKeys = new Map<string, { canonical: string; id: string }>();
/** Ids of accepted category messages, for GET /v1/messages/{id}/fanout. */
const categoryMessageIds: string[] = [];
/** Ids of accepted user messages (no fan-out job). */
const userMessageIds: string[] = [];

interface PostRequest {
  token: TokenChoice;
  contentType: string | undefined;
  text: string;
  key: string | undefined;
}

/** JSON.parse as fastify's body parser does it: a leading byte order mark is dropped. */
function parseJson(text: string): unknown {
  return JSON.parse(text.replace(/^\uFEFF/, ''));
}

/** The body as the handler sees it (ttlSeconds default filled), the way the fingerprint sees it. */
function canonical(body: Record<string, unknown>): string {
  return JSON.stringify(body.ttlSeconds === undefined ? { ...body, ttlSeconds: DEFAULT_TTL_SECONDS } : body);
}

async function postMessage(req: PostRequest): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { ...authHeader(req.token) };
  if (req.contentType !== undefined) headers['content-type'] = req.contentType;
  if (req.key !== undefined) headers['idempotency-key'] = req.key;

  const prior = await before();
  const res = await ingest.app.inject({ method: 'POST', url: '/v1/messages', headers, payload: req.text });
  expectContractAnswer(res);
  const authorized = grants(req.token.kind, Scope.MESSAGES_WRITE);
  if (!authorized) expect([401, 403]).toContain(res.statusCode);

  const producer = SUBJECTS[req.token.kind];
  const modelKey = req.key !== undefined && IDEMPOTENCY_KEY.test(req.key) && producer ? `${producer}\n${req.key}` : undefined;
  const used = modelKey === undefined ? undefined : usedKeys.get(modelKey);

  if (res.statusCode >= 400) {
    await expectNoWrites(prior);
    if (errorCode(res) === 'IDEMPOTENCY_KEY_REUSED') {
      expect(used).toBeDefined();
      expect(canonical(parseJson(req.text) as Record<string, unknown>)).not.toBe(used!.canonical);
    }
    return res;
  }

  expect(res.statusCode).toBe(202);
  const { id } = res.json() as { id: string };
  expect(id).toMatch(UUID);
  const body = parseJson(req.text) as { userIds?: string[]; category?: string } & Record<string, unknown>;

  if (res.headers['idempotent-replayed'] === 'true') {
    // Same producer, key and body as an earlier request: its answer, and nothing written again.
    expect(used).toEqual({ canonical: canonical(body), id });
    await expectNoWrites(prior);
    return res;
  }
  if (modelKey !== undefined) {
    expect(used).toBeUndefined();
    usedKeys.set(modelKey, { canonical: canonical(body), id });
  }

  expect(await redis.exists(keys.message(id))).toBe(1);
  if (body.userIds !== undefined) {
    userMessageIds.push(id);
    for (const userId of body.userIds) {
      const inbox = await redis.lrange(keys.inbox(userId), 0, -1);
      expect(inbox[inbox.length - 1]).toBe(id);
      expect(inbox.filter((x) => x === id)).toHaveLength(1);
    }
  } else {
    categoryMessageIds.push(id);
    const status = await ingest.app.inject({ method: 'GET', url: `/v1/messages/${id}/fanout`, headers: bearer(signed.messages!) });
    expect(status.statusCode).toBe(200);
    expect(status.json()).toMatchObject({ messageId: id, category: body.category });
  }
  return res;
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  server = await startRedisServer();
  redis = new Redis(server.url);
  ingest = await startIngest(
    ingestConfig(server.url, {
      MAX_RECIPIENTS: String(MAX_RECIPIENTS),
      MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      MESSAGE_MAX_TTL_SECONDS: String(MAX_TTL_SECONDS),
      MESSAGE_DEFAULT_TTL_SECONDS: String(DEFAULT_TTL_SECONDS),
      // No background worker: every request is judged by whole-Redis snapshots.
      FANOUT_WORKER: 'false',
    }),
  );
  await ingest.app.ready();
  await signTokens();
  writeCommands = await loadWriteCommands();
  // The queue's own start-up writes (BullMQ metadata) happen once; send one message so they are done.
  const warmup = await ingest.app.inject({
    method: 'POST',
    url: '/v1/messages',
    headers: bearer(signed.messages!),
    payload: { category: 'warmup', payload: null },
  });
  expect(warmup.statusCode).toBe(202);
  categoryMessageIds.push((warmup.json() as { id: string }).id);
});

afterAll(async () => {
  await ingest?.close();
  redis?.disconnect();
  await server?.stop();
});

describe('POST /v1/messages', () => {
  it('answers any JSON body with 2xx or a Contract 4xx, writing all of a message or nothing', async () => {
    await fc.assert(
      fc.asyncProperty(tokenFor(Scope.MESSAGES_WRITE), jsonBodyText, fc.option(idempotencyKeyArb, { nil: undefined }), async (token, text, key) => {
        await postMessage({ token, contentType: 'application/json', text, key });
      }),
      fcOptions,
    );
  });

  it('answers text that is not JSON, sent as application/json, with a Contract 4xx and writes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(tokenFor(Scope.MESSAGES_WRITE), rawBodyText, async (token, text) => {
        await postMessage({ token, contentType: 'application/json', text, key: undefined });
      }),
      fcOptions,
    );
  });

  it('answers any content type with 2xx or a Contract 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(tokenFor(Scope.MESSAGES_WRITE), contentTypeArb, fc.oneof(pooledBody, jsonBodyText), async (token, contentType, text) => {
        await postMessage({ token, contentType, text, key: undefined });
      }),
      fcOptions,
    );
  });

  it('accepts a payload nested up to MAX_PAYLOAD_DEPTH and refuses a deeper one with 400, writing nothing', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(depthArb, fc.boolean(), fc.boolean(), async (depth, array, withKey) => {
        n += 1;
        const res = await postMessage({
          token: { kind: 'messages', raw: '' },
          contentType: 'application/json',
          text: `{"userIds":["deep"],"payload":${nestedText(depth, array)}}`,
          key: withKey ? `deep-${Date.now()}-${n}` : undefined,
        });
        expect(res.statusCode).toBe(depth <= MAX_PAYLOAD_DEPTH ? 202 : 400);
        if (res.statusCode === 400) expect(errorCode(res)).toBe('INVALID_BODY');
      }),
      fcOptions,
    );
  });

  it('keeps Idempotency-Key promises: same key and body replay the first id writing nothing, another body is refused', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ kind: fc.constantFrom<TokenKind>('messages', 'both', 'messages', 'both', 'user'), raw: fc.constant('') }),
        keyedBody,
        async (token, { key, text }) => {
          await postMessage({ token, contentType: 'application/json', text, key });
        },
      ),
      fcOptions,
    );
  });
});

describe('GET /v1/messages/{id}/fanout', () => {
  it('answers any id with 2xx or a Contract 4xx and changes no data', async () => {
    const idArb = fc.oneof(
      { weight: 4, arbitrary: segmentArb },
      { weight: 3, arbitrary: fc.constantFrom(...categoryMessageIds) },
      { weight: 1, arbitrary: fc.constantFrom('no-such-id', ...userMessageIds) },
    );
    await fc.assert(
      fc.asyncProperty(tokenFor(Scope.MESSAGES_WRITE), idArb, async (token, id) => {
        const prior = await before();
        const res = await ingest.app.inject({ method: 'GET', url: `/v1/messages/${id}/fanout`, headers: authHeader(token) });
        expectContractAnswer(res);
        if (!grants(token.kind, Scope.MESSAGES_WRITE)) expect(res.statusCode).toBeGreaterThanOrEqual(400);
        if (res.statusCode >= 400) {
          await expectNoWrites(prior);
        } else {
          // BullMQ reads a job's state with a (read-only) script, so only the data is compared.
          await expectSameData(prior);
          expect(categoryMessageIds).toContain(id);
          expect(res.json()).toMatchObject({ messageId: id });
        }
      }),
      fcOptions,
    );
  });
});

describe('PUT and GET /v1/users/{userId}/categories', () => {
  const categoriesBody = fc.oneof(
    { weight: 8, arbitrary: fc.uniqueArray(categoryArb, { maxLength: 6 }).map((categories) => JSON.stringify({ categories })) },
    { weight: 2, arbitrary: fc.array(fc.oneof(categoryArb, fc.constant('news')), { maxLength: 6 }).map((categories) => JSON.stringify({ categories })) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: MAX_CATEGORIES_PER_USER - 1, max: MAX_CATEGORIES_PER_USER + 1 }).map((n) =>
        JSON.stringify({ categories: Array.from({ length: n }, (_, i) => `c${i}`) }),
      ),
    },
    { weight: 2, arbitrary: fc.record({ categories: fc.array(fc.oneof(anyText(70), jsonArb), { maxLength: 4 }) }).map((v) => JSON.stringify(v)) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.record({ categories: jsonArb }, { requiredKeys: [] }),
          fc.dictionary(fc.oneof(anyText(10), fc.constantFrom('__proto__', 'categories', 'userId')), jsonArb, { maxKeys: 2 }),
        )
        .map(([a, b]) => JSON.stringify({ ...b, ...a })),
    },
    { weight: 1, arbitrary: anythingJsonText },
    { weight: 1, arbitrary: rawBodyText },
  );

  it('answers any user id, body and token with 2xx or a Contract 4xx; a 204 stores exactly the set sent', async () => {
    await fc.assert(
      fc.asyncProperty(
        tokenFor(Scope.CATEGORIES_WRITE),
        fc.constantFrom('PUT', 'PUT', 'PUT', 'PUT', 'GET', 'GET', 'DELETE', 'POST'),
        segmentArb,
        categoriesBody,
        fc.oneof({ weight: 4, arbitrary: fc.constant<string | undefined>('application/json') }, { weight: 1, arbitrary: contentTypeArb }),
        async (token, method, segment, text, contentType) => {
          let userId: string | undefined;
          try {
            userId = decodeURIComponent(segment);
          } catch {
            userId = undefined;
          }
          const valid = userId !== undefined && isUserId(userId) ? userId : undefined;
          const previous = valid === undefined ? [] : await redis.smembers(keys.userCategories(valid));

          const prior = await before();
          const headers: Record<string, string> = { ...authHeader(token) };
          if (method === 'PUT' && contentType !== undefined) headers['content-type'] = contentType;
          const res = await ingest.app.inject({
            method: method as 'PUT' | 'GET' | 'DELETE' | 'POST',
            url: `/v1/users/${segment}/categories`,
            headers,
            ...(method === 'PUT' ? { payload: text } : {}),
          });
          expectContractAnswer(res);
          if (!grants(token.kind, Scope.CATEGORIES_WRITE)) expect(res.statusCode).toBeGreaterThanOrEqual(400);

          if (res.statusCode >= 400) {
            await expectNoWrites(prior);
            return;
          }
          expect(valid).toBeDefined();
          if (method === 'GET') {
            expect(res.statusCode).toBe(200);
            expect(res.json()).toEqual({ userId: valid, categories: [...previous].sort() });
            await expectNoWrites(prior);
            return;
          }
          expect(method).toBe('PUT');
          expect(res.statusCode).toBe(204);
          expect(res.body).toBe('');
          const sent = [...new Set((parseJson(text) as { categories: string[] }).categories)].sort();
          const read = await ingest.app.inject({ method: 'GET', url: `/v1/users/${segment}/categories`, headers: bearer(signed.categories!) });
          expect(read.statusCode).toBe(200);
          expect(read.json()).toEqual({ userId: valid, categories: sent });
          for (const category of sent) expect(await redis.sismember(keys.categoryMembers(category), valid!)).toBe(1);
          for (const category of previous.filter((c) => !sent.includes(c))) {
            expect(await redis.sismember(keys.categoryMembers(category), valid!)).toBe(0);
          }
        },
      ),
      fcOptions,
    );
  });
});
