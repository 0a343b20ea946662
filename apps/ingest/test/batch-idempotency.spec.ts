/**
 * idempotencyKey per batch item, against a real redis-server: a retried batch answers the same
 * ids and delivers nothing twice; a key shared with a single POST /v1/messages is one key; a key
 * given twice in one batch is one message; a key reused with another body is refused.
 */
import { keys } from '@herald/redis';
import { bearer, counterValue, expectNoWrites } from './harness';
import { errorCodes, idsOf, postBatch, useIngest } from './batch-support';

/** Short, so that the retry of a failed item takes its key over soon. */
const LEASE_MS = 300;

const t = useIngest({ IDEMPOTENCY_LEASE_MS: String(LEASE_MS) });

const batch = (body: unknown) => postBatch(t.ingest, t.tokens.messages, body);
const inbox = (userId: string) => t.redis.lrange(keys.inbox(userId), 0, -1);
const replays = async () => counterValue((await t.ingest.app.inject({ url: '/metrics' })).body, 'herald_idempotent_replays_total');

it('answers a retried batch with the same ids and writes nothing again', async () => {
  const body = {
    messages: [
      { userIds: ['retry-a', 'retry-b'], payload: 1, idempotencyKey: 'retry-1' },
      { category: 'retry-news', payload: 2, idempotencyKey: 'retry-2' },
      { userIds: ['retry-a'], payload: 3, idempotencyKey: 'retry-3' },
    ],
  };
  const first = await batch(body);
  expect(first.status).toBe(200);
  const ids = idsOf(first.results);
  const before = await replays();

  await expectNoWrites(t.redis, async () => {
    const again = await batch(body);
    expect(again.status).toBe(200);
    expect(idsOf(again.results)).toEqual(ids);
  });
  expect((await replays()) - before).toBe(3);
  expect(await inbox('retry-a')).toEqual([ids[0], ids[2]]);
  expect(await inbox('retry-b')).toEqual([ids[0]]);
});

it('completes, with the same ids, a retry after some items were sent alone first, and sends keyless items again', async () => {
  // One item's key was used by a single send (the same body): the batch replays it.
  const alone = await t.ingest.app.inject({
    method: 'POST',
    url: '/v1/messages',
    headers: { ...bearer(t.tokens.messages), 'idempotency-key': 'shared-1' },
    payload: { userIds: ['shared'], payload: 'one' },
  });
  const aloneId = (alone.json() as { id: string }).id;
  const body = {
    messages: [
      { userIds: ['shared'], payload: 'one', idempotencyKey: 'shared-1' },
      { userIds: ['shared'], payload: 'two', idempotencyKey: 'shared-2' },
      { userIds: ['shared'], payload: 'keyless' },
    ],
  };
  const first = idsOf((await batch(body)).results);
  expect(first[0]).toBe(aloneId);
  const second = idsOf((await batch(body)).results);
  expect(second.slice(0, 2)).toEqual(first.slice(0, 2));
  expect(second[2]).not.toBe(first[2]);
  expect(await inbox('shared')).toEqual([aloneId, first[1], first[2], second[2]]);
});

it('sends one message for a key given twice in a batch with the same body, and refuses it with another body', async () => {
  const res = await batch({
    messages: [
      { userIds: ['twice'], payload: 'same', idempotencyKey: 'twice-1' },
      { userIds: ['twice'], payload: 'same', idempotencyKey: 'twice-1' },
      { userIds: ['twice'], payload: 'other', idempotencyKey: 'twice-1' },
    ],
  });
  expect(errorCodes(res.results)).toEqual(['ok', 'ok', 'IDEMPOTENCY_KEY_REUSED']);
  expect(res.results[1]).toEqual(res.results[0]);
  expect(await inbox('twice')).toEqual(idsOf(res.results.slice(0, 1)));

  // A later batch reusing the key with another body: refused for that item only.
  const later = await batch({
    messages: [
      { userIds: ['twice'], payload: 'changed', idempotencyKey: 'twice-1' },
      { userIds: ['twice'], payload: 'fresh', idempotencyKey: 'twice-2' },
    ],
  });
  expect(errorCodes(later.results)).toEqual(['IDEMPOTENCY_KEY_REUSED', 'ok']);
});

it('finishes, with the same id, an item that failed part-way, delivering only to the users it missed', async () => {
  await t.redis.set(keys.inbox('heal-broken'), 'not a list');
  const body = { messages: [{ userIds: ['heal-ok', 'heal-broken'], payload: 'heal', idempotencyKey: 'heal-1' }] };
  const failed = await batch(body);
  expect(errorCodes(failed.results)).toEqual(['INTERNAL']);
  const [id] = await inbox('heal-ok');

  await t.redis.del(keys.inbox('heal-broken'));
  // The failed attempt still holds the key: the retry waits out its lease, then takes it over.
  const retried = await batch(body);
  expect(idsOf(retried.results)).toEqual([id]);
  expect(await inbox('heal-ok')).toEqual([id]);
  expect(await inbox('heal-broken')).toEqual([id]);
});
