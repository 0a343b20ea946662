/**
 * replaceKey on POST /v1/messages and on batch items, against a real redis-server through the
 * app: the older message with the key leaves the offline list (or the category's log), the frame
 * and the record keep the key, herald_replaced_total counts it; bad keys write nothing.
 */
import { decodeMessage, keys } from '@herald/redis';
import { bearer, counterValue, expectNoWrites } from './harness';
import { errorCodes, idsOf, postBatch, useIngest } from './batch-support';

const t = useIngest({ MESSAGE_DEFAULT_TTL_SECONDS: '600' });

const send = async (body: object) => {
  const res = await t.ingest.app.inject({ method: 'POST', url: '/v1/messages', headers: bearer(t.tokens.messages), payload: body });
  expect(res.statusCode).toBe(202);
  return (res.json() as { id: string }).id;
};
const inbox = (userId: string) => t.redis.lrange(keys.inbox(userId), 0, -1);
const replaced = async (target: string) =>
  counterValue((await t.ingest.app.inject({ url: '/metrics' })).body, 'herald_replaced_total', `target="${target}"`);

it('replaces the pending message with the same key in each offline list, and counts it', async () => {
  const before = await replaced('users');
  const first = await send({ userIds: ['rk-a', 'rk-b'], payload: '2 comments', replaceKey: 'post:1' });
  const other = await send({ userIds: ['rk-a'], payload: 'hi', replaceKey: 'post:2' });
  const second = await send({ userIds: ['rk-a', 'rk-b'], payload: '3 comments', replaceKey: 'post:1' });
  expect(await inbox('rk-a')).toEqual([other, second]);
  expect(await inbox('rk-b')).toEqual([second]);
  expect((await replaced('users')) - before).toBe(2);

  const frame = JSON.parse(decodeMessage((await t.redis.getBuffer(keys.message(second)))!)!.frame.toString()) as Record<string, unknown>;
  expect(frame).toMatchObject({ id: second, replaceKey: 'post:1', payload: '3 comments' });
  expect(Object.keys(frame).at(-1)).toBe('createdAt');
  expect(await t.redis.hget(keys.messageRecord(second), 'replaceKey')).toBe('post:1');
  expect(await t.redis.hget(keys.messageRecord(first), 'replaceKey')).toBe('post:1');
});

it("replaces a category's entry with the same key, also from a batch item", async () => {
  const before = await replaced('category');
  const first = await send({ category: 'rk-news', payload: '1-0', replaceKey: 'score' });
  const res = await postBatch(t.ingest, t.tokens.messages, {
    messages: [
      { category: 'rk-news', payload: '2-0', replaceKey: 'score' },
      { userIds: ['rk-c'], payload: 1, replaceKey: 'x' },
      { userIds: ['rk-c'], payload: 2, replaceKey: 'x' },
    ],
  });
  const [second, , last] = idsOf(res.results);
  expect(first).not.toBe(second);
  expect((await t.redis.xrange(keys.categoryLog('rk-news'), '-', '+')).map(([, f]) => f[1])).toEqual([second]);
  expect(await inbox('rk-c')).toEqual([last]);
  expect((await replaced('category')) - before).toBe(1);
});

it('refuses bad replace keys with INVALID_REPLACE_KEY, alone and in a batch, writing nothing for them', async () => {
  await expectNoWrites(t.redis, async () => {
    const res = await t.ingest.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: bearer(t.tokens.messages),
      payload: { userIds: ['rk-d'], payload: 1, replaceKey: 'no spaces' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: { code: 'INVALID_REPLACE_KEY', message: expect.stringMatching(/replaceKey: Replace keys are 1-64/) } });
    const batch = await postBatch(t.ingest, t.tokens.messages, {
      messages: [
        { userIds: ['rk-d'], payload: 1, replaceKey: 'k'.repeat(65) },
        { category: 'rk-news', payload: 1, replaceKey: 'a|b' },
      ],
    });
    expect(batch.status).toBe(200);
    expect(errorCodes(batch.results)).toEqual(['INVALID_REPLACE_KEY', 'INVALID_REPLACE_KEY']);
  });
});
