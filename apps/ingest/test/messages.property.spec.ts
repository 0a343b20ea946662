/**
 * Property-based tests (fast-check) of ingest's message routes against a real redis-server:
 * POST /v1/messages with random bodies, raw texts, content types, Idempotency-Key values and
 * tokens, and GET /v1/messages/{id}/fanout with random ids and the ids the POST tests had
 * accepted (so both live in this file). Whatever arrives, the answer is a 2xx or a 4xx (never a
 * 5xx), every 4xx carries the Contract error body with the status its code has in the codes
 * table, a refused request leaves Redis exactly as it was (support/property-stack.ts), and an
 * accepted one leaves it whole (body stored, id in every inbox once).
 *
 * A failure prints fast-check's seed and counterexample; replay it with `{ seed, path }` in fcOptions.
 */
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { keys } from '@herald/redis';
import { expectContractAnswer } from '@herald/testing';
import { Scope } from '@herald/types';
import { MAX_PAYLOAD_DEPTH } from '../src/routes/messages';
import { bearer } from './harness';
import {
  contentTypeArb,
  depthArb,
  idempotencyKeyArb,
  jsonBodyText,
  keyedBody,
  nestedText,
  pooledBody,
  rawBodyText,
  segmentArb,
  tokenFor,
} from './support/property-arbitraries';
import {
  before,
  DEFAULT_TTL_SECONDS,
  expectNoWrites,
  IDEMPOTENCY_KEY,
  parseJson,
  sharedPropertyIngest,
} from './support/property-stack';
import { authHeader, grants, signed, SUBJECTS, type TokenChoice, type TokenKind } from './support/property-tokens';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const fcOptions = { numRuns: 150 };

const stack = sharedPropertyIngest();

const errorCode = (res: LightMyRequestResponse): string => (JSON.parse(res.body) as { error: { code: string } }).error.code;

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

/** The body as the handler sees it (ttlSeconds default filled), the way the fingerprint sees it. */
function canonical(body: Record<string, unknown>): string {
  return JSON.stringify(body.ttlSeconds === undefined ? { ...body, ttlSeconds: DEFAULT_TTL_SECONDS } : body);
}

async function postMessage(req: PostRequest): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { ...authHeader(req.token) };
  if (req.contentType !== undefined) headers['content-type'] = req.contentType;
  if (req.key !== undefined) headers['idempotency-key'] = req.key;

  const prior = await before(stack);
  const res = await stack.ingest.app.inject({ method: 'POST', url: '/v1/messages', headers, payload: req.text });
  expectContractAnswer(res);
  const authorized = grants(req.token.kind, Scope.MESSAGES_WRITE);
  if (!authorized) expect([401, 403]).toContain(res.statusCode);

  const producer = SUBJECTS[req.token.kind];
  const modelKey = req.key !== undefined && IDEMPOTENCY_KEY.test(req.key) && producer ? `${producer}\n${req.key}` : undefined;
  const used = modelKey === undefined ? undefined : usedKeys.get(modelKey);

  if (res.statusCode >= 400) {
    await expectNoWrites(stack, prior);
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
    await expectNoWrites(stack, prior);
    return res;
  }
  if (modelKey !== undefined) {
    expect(used).toBeUndefined();
    usedKeys.set(modelKey, { canonical: canonical(body), id });
  }

  expect(await stack.redis.exists(keys.message(id))).toBe(1);
  if (body.userIds !== undefined) {
    userMessageIds.push(id);
    for (const userId of body.userIds) {
      const inbox = await stack.redis.lrange(keys.inbox(userId), 0, -1);
      expect(inbox[inbox.length - 1]).toBe(id);
      expect(inbox.filter((x) => x === id)).toHaveLength(1);
    }
  } else {
    categoryMessageIds.push(id);
    const status = await stack.ingest.app.inject({ method: 'GET', url: `/v1/messages/${id}/fanout`, headers: bearer(signed.messages!) });
    expect(status.statusCode).toBe(200);
    expect(status.json()).toMatchObject({ messageId: id, category: body.category });
  }
  return res;
}

beforeAll(() => {
  categoryMessageIds.push(stack.warmupMessageId);
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
        const prior = await before(stack);
        const res = await stack.ingest.app.inject({ method: 'GET', url: `/v1/messages/${id}/fanout`, headers: authHeader(token) });
        expectContractAnswer(res);
        if (!grants(token.kind, Scope.MESSAGES_WRITE)) expect(res.statusCode).toBeGreaterThanOrEqual(400);
        if (res.statusCode >= 400) {
          await expectNoWrites(stack, prior);
        } else {
          await expectNoWrites(stack, prior);
          expect(categoryMessageIds).toContain(id);
          expect(res.json()).toMatchObject({ messageId: id });
        }
      }),
      fcOptions,
    );
  });
});
