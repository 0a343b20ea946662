/**
 * POST /v1/messages/batch against a real redis-server, through the app: each item sent as POST
 * /v1/messages would send it and answered in order, invalid items refused on their own, and a
 * body that is not a batch refused whole with nothing written.
 */
import { keys } from '@herald/redis';
import { MAX_BATCH_MESSAGES } from '@herald/types';
import { bearer, counterValue, expectNoWrites } from './harness';
import { errorCodes, idsOf, postBatch, useIngest } from './batch-support';

/** Room for 1000 short user ids in one item. */
const MAX_BODY_BYTES = 16 * 1024;
const MAX_BATCH_BODY_BYTES = 512 * 1024;

const t = useIngest({
  MAX_BODY_BYTES: String(MAX_BODY_BYTES),
  MAX_BATCH_BODY_BYTES: String(MAX_BATCH_BODY_BYTES),
  MAX_RECIPIENTS: '1000',
  MESSAGE_DEFAULT_TTL_SECONDS: '600',
});

const batch = (body: unknown, token = t.tokens.messages) => postBatch(t.ingest, token, body);
const inbox = (userId: string) => t.redis.lrange(keys.inbox(userId), 0, -1);
const metrics = async () => (await t.ingest.app.inject({ url: '/metrics' })).body;

it('sends users and category items, answers 200 with ids in order, and counts each message', async () => {
  const before = await metrics();
  const res = await batch({
    messages: [
      { userIds: ['mix-a', 'mix-b'], payload: { n: 1 } },
      { category: 'mix-news', payload: { n: 2 } },
      { userIds: ['mix-a'], payload: { n: 3 }, ttlSeconds: 60 },
    ],
  });
  expect(res.status).toBe(200);
  const [first, category, third] = idsOf(res.results);
  expect(new Set([first, category, third]).size).toBe(3);
  expect(await inbox('mix-a')).toEqual([first, third]);
  expect(await inbox('mix-b')).toEqual([first]);
  expect(await t.redis.pttl(keys.message(third))).toBeLessThanOrEqual(60_000);
  expect(await t.redis.pttl(keys.message(first))).toBeGreaterThan(60_000);
  const fanout = await t.ingest.app.inject({ url: `/v1/messages/${category}/fanout`, headers: bearer(t.tokens.messages) });
  expect(fanout.json()).toMatchObject({ messageId: category, category: 'mix-news', state: 'completed' });
  expect((await t.redis.xrange(keys.categoryLog('mix-news'), '-', '+')).map(([, f]) => f[1])).toEqual([category]);

  const after = await metrics();
  const accepted = (text: string, target: string) => counterValue(text, 'herald_messages_accepted_total', `target="${target}"`);
  expect(accepted(after, 'users') - accepted(before, 'users')).toBe(2);
  expect(accepted(after, 'category') - accepted(before, 'category')).toBe(1);
});

it('refuses each invalid item with the code a single send would get, and sends the valid ones', async () => {
  const deep = JSON.parse('['.repeat(102) + ']'.repeat(102)) as unknown;
  const res = await batch({
    messages: [
      { userIds: ['part-a'], payload: 'first' },
      { userIds: ['bad id'], payload: 1 },
      { userIds: ['part-a'], category: 'both', payload: 1 },
      { category: 'no spaces', payload: 1 },
      { userIds: ['part-a'], payload: 1, idempotencyKey: 'has space' },
      { userIds: ['part-a'], payload: deep },
      { userIds: ['part-a'], payload: 'x'.repeat(MAX_BODY_BYTES) },
      42,
      { userIds: ['part-a'], payload: 1, extra: true },
      { userIds: ['part-a'], payload: 'last' },
    ],
  });
  expect(res.status).toBe(200);
  expect(errorCodes(res.results)).toEqual([
    'ok',
    'INVALID_USER_ID',
    'INVALID_BODY',
    'INVALID_CATEGORY',
    'INVALID_IDEMPOTENCY_KEY',
    'INVALID_BODY',
    'PAYLOAD_TOO_LARGE',
    'INVALID_BODY',
    'INVALID_BODY',
    'ok',
  ]);
  const messages = res.results.map((r) => ('error' in r ? r.error.message : ''));
  expect(messages[1]).toMatch(/^messages\/1\/userIds\/0: User ids are/);
  expect(messages[5]).toMatch(/^messages\/5\/payload is nested more than 100 levels/);
  const ids = [res.results[0], res.results[9]].map((r) => ('id' in r ? r.id : ''));
  expect(await inbox('part-a')).toEqual(ids);
});

it('answers INTERNAL for an item whose writes fail in Redis, and sends the others', async () => {
  await t.redis.set(keys.inbox('broken-inbox'), 'not a list');
  const res = await batch({
    messages: [
      { userIds: ['fine-a'], payload: 1 },
      { userIds: ['broken-inbox'], payload: 2 },
      { userIds: ['fine-a'], payload: 3 },
    ],
  });
  expect(res.status).toBe(200);
  expect(errorCodes(res.results)).toEqual(['ok', 'INTERNAL', 'ok']);
  expect(JSON.stringify(res.results[1])).not.toMatch(/WRONGTYPE/);
  expect(await inbox('fine-a')).toEqual(idsOf([res.results[0], res.results[2]]));
});

describe('refuses a body that is not a batch, with 400 and nothing written', () => {
  const item = { userIds: ['never'], payload: 1 };
  it.each([
    ['no messages', {}],
    ['messages not an array', { messages: item }],
    ['an empty batch', { messages: [] }],
    [`${MAX_BATCH_MESSAGES + 1} messages`, { messages: Array.from({ length: MAX_BATCH_MESSAGES + 1 }, () => item) }],
    ['another property', { messages: [item], more: 1 }],
    ['an array', [item]],
  ])('%s', async (_what, body) => {
    await expectNoWrites(t.redis, async () => {
      const res = await batch(body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'INVALID_BODY' } });
    });
  });

  it('more than 30,000 user ids in all', async () => {
    const userIds = Array.from({ length: 1000 }, (_, i) => `u${i}`);
    await expectNoWrites(t.redis, async () => {
      const res = await batch({ messages: Array.from({ length: 31 }, () => ({ userIds, payload: 1 })) });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'INVALID_BODY', message: expect.stringMatching(/31000 user ids/) } });
    });
  });

  it(`a body over MAX_BATCH_BODY_BYTES (413), while ${MAX_BATCH_MESSAGES} items over MAX_BODY_BYTES in all are fine`, async () => {
    const small = Array.from({ length: MAX_BATCH_MESSAGES }, (_, i) => ({ userIds: ['big-batch'], payload: `${i}`.padEnd(100) }));
    const ok = await batch({ messages: small });
    expect(ok.status).toBe(200);
    expect(idsOf(ok.results)).toHaveLength(MAX_BATCH_MESSAGES);
    expect(await t.redis.llen(keys.inbox('big-batch'))).toBe(MAX_BATCH_MESSAGES);

    await expectNoWrites(t.redis, async () => {
      const res = await batch({ messages: [{ userIds: ['never'], payload: 'x'.repeat(MAX_BATCH_BODY_BYTES) }] });
      expect(res.status).toBe(413);
      expect(res.body).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    });
  });

  it('without a token (401) or without messages:write (403)', async () => {
    await expectNoWrites(t.redis, async () => {
      expect((await batch({ messages: [item] }, 'not-a-token')).status).toBe(401);
      expect((await batch({ messages: [item] }, t.tokens.categories)).status).toBe(403);
    });
  });
});
