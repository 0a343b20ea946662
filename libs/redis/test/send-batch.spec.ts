/**
 * sendBatch, the write protocol for many messages in one request, on a real redis-server and on a
 * real 3-master Redis Cluster: bodies stored before their notes, a user's messages in the
 * batch's order across chunks, one inline-note budget for the whole batch, repeatable items, and
 * a failing item that costs only itself.
 */
import { Cluster } from 'ioredis';
import { INBOX_DEFAULT_CAP } from '@herald/types';
import { startRedisCluster, waitFor, type RedisCluster } from '@herald/testing';
import {
  closeRedis,
  createRedis,
  decodeMessage,
  DeliveryError,
  keys,
  loadMessages,
  MessageRecalledError,
  newMessage,
  sendBatch,
  type HeraldRedis,
  type Notification,
} from '../src';
import { useNoteRecorder } from './private-redis';

const OPTS = { cap: INBOX_DEFAULT_CAP, inboxTtlSeconds: 3600 };
const msg = (payload: unknown, category: string | null = null) => newMessage({ payload, ttlMs: 60_000, category });
const users = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

describe('on one redis-server', () => {
  let redis: HeraldRedis;
  const notes = new Map<string, Notification[]>();
  const listen = useNoteRecorder('batch-test', notes, (commands) => (redis = commands));

  it('stores every body, delivers each user its messages in the batch order across chunks, and stores a category message only', async () => {
    const [a, b] = users('order', 2);
    const items = [msg(1), msg(2), msg('news', 'news'), msg(3), msg(4)];
    const outcomes = await sendBatch(
      redis,
      [
        { message: items[0], userIds: [a, b] },
        { message: items[1], userIds: [a] },
        { message: items[2], userIds: [] },
        { message: items[3], userIds: [b, a] },
        { message: items[4], userIds: [a] },
      ],
      { ...OPTS, chunkSize: 2 },
    );
    expect(outcomes).toEqual([
      { counts: { delivered: 2, skipped: 0, dropped: 0, replaced: 0, droppedIds: [] } },
      { counts: { delivered: 1, skipped: 0, dropped: 0, replaced: 0, droppedIds: [] } },
      { counts: { delivered: 0, skipped: 0, dropped: 0, replaced: 0, droppedIds: [] } },
      { counts: { delivered: 2, skipped: 0, dropped: 0, replaced: 0, droppedIds: [] } },
      { counts: { delivered: 1, skipped: 0, dropped: 0, replaced: 0, droppedIds: [] } },
    ]);
    expect(await redis.lrange(keys.inbox(a), 0, -1)).toEqual([items[0].id, items[1].id, items[3].id, items[4].id]);
    expect(await redis.lrange(keys.inbox(b), 0, -1)).toEqual([items[0].id, items[3].id]);
    expect((await loadMessages(redis, items.map((m) => m.id))).every((body) => body !== null)).toBe(true);
  });

  it('shares one inline-note budget across the batch: past it, references', async () => {
    const [u] = users('budget', 1);
    await listen([u]);
    const big = Array.from({ length: 5 }, (_, i) => msg(`${i}`.repeat(250_000)));
    await sendBatch(redis, big.map((message) => ({ message, userIds: [u] })), OPTS);
    await waitFor(() => notes.get(u)?.length === 5, { what: 'five notes' });
    // 4 copies of ~250 KB fit in 1 MB; the fifth would not.
    expect(notes.get(u)!.map((n) => n.kind)).toEqual(['message', 'message', 'message', 'message', 'ref']);
    expect(notes.get(u)![4]).toEqual({ kind: 'ref', id: big[4].id });
  });

  it('repeats repeatable items without duplicating an id', async () => {
    const [u, v] = users('again', 2);
    const message = msg('once');
    const item = { message, userIds: [u, v], repeatable: { rememberSeconds: 60 } };
    await sendBatch(redis, [{ ...item, userIds: [u] }], OPTS);
    expect(await sendBatch(redis, [item], OPTS)).toEqual([{ counts: { delivered: 1, skipped: 1, dropped: 0, replaced: 0, droppedIds: [] } }]);
    expect([await redis.lrange(keys.inbox(u), 0, -1), await redis.lrange(keys.inbox(v), 0, -1)]).toEqual([[message.id], [message.id]]);
  });

  it('fails only the item whose delivery failed, stops its later chunks, and sends the others', async () => {
    const [ok, broken, later] = users('part', 3);
    await redis.set(keys.inbox(broken), 'not a list');
    const [first, failing, third] = [msg('a'), msg('b'), msg('c')];
    const outcomes = await sendBatch(
      redis,
      [
        { message: first, userIds: [ok] },
        { message: failing, userIds: [broken, later, ok] },
        { message: third, userIds: [ok] },
      ],
      { ...OPTS, chunkSize: 2 },
    );
    expect(outcomes[0]).toEqual({ counts: { delivered: 1, skipped: 0, dropped: 0, replaced: 0, droppedIds: [] } });
    expect(outcomes[1].error).toBeInstanceOf(DeliveryError);
    expect(String((outcomes[1].error as DeliveryError).cause)).toMatch(/WRONGTYPE/);
    // Chunks of 2 deliveries: [first→ok, failing→broken], [failing→later, failing→ok], [third→ok].
    // The failing item's first chunk failed, so its second was not tried.
    expect(outcomes[1].counts).toEqual({ delivered: 0, skipped: 0, dropped: 0, replaced: 0, droppedIds: [] });
    expect(outcomes[2]).toEqual({ counts: { delivered: 1, skipped: 0, dropped: 0, replaced: 0, droppedIds: [] } });
    expect(await redis.lrange(keys.inbox(ok), 0, -1)).toEqual([first.id, third.id]);
    expect(await redis.lrange(keys.inbox(later), 0, -1)).toEqual([]);
  });
  it('sends a chunk as one script call, whatever its messages and users', async () => {
    const [u, v] = users('one-call', 2);
    await sendBatch(redis, [{ message: msg('loads the script'), userIds: [u] }], OPTS);
    const before = await scriptCalls(redis);
    const items = Array.from({ length: 50 }, (_, i) => ({ message: msg(i), userIds: i % 2 === 0 ? [u] : [u, v] }));
    const outcomes = await sendBatch(redis, items, OPTS);
    expect(outcomes.every((o) => o.error === undefined)).toBe(true);
    // 50 bodies and 75 deliveries: one call (two with chunks of 40 deliveries).
    expect((await scriptCalls(redis)) - before).toBe(1);
    await sendBatch(redis, items.map((item) => ({ ...item, message: msg('again') })), { ...OPTS, chunkSize: 40 });
    expect((await scriptCalls(redis)) - before).toBe(3);
    expect(await redis.llen(keys.inbox(u))).toBe(101);
  });

  it('writes the chunks of one turn into one buffer that outgrows its first size, each chunk intact', async () => {
    // 40 sends issued in one turn, ~8 KB each (text of 1 to 4 bytes a character): the turn's buffer
    // (64 KB at first) grows while earlier chunks already went; every body and inbox must be exact.
    const sends = Array.from({ length: 40 }, (_, i) => {
      const [u] = users(`turn-${i}`, 1);
      const message = msg(`${['a', 'é', '用', '🎉'][i % 4]}`.repeat(2000 + i));
      return { u, message, done: sendBatch(redis, [{ message, userIds: [u] }], OPTS) };
    });
    const outcomes = await Promise.all(sends.map((s) => s.done));
    expect(outcomes.every(([o]) => o.error === undefined && o.counts.delivered === 1)).toBe(true);
    const bodies = await loadMessages(redis, sends.map((s) => s.message.id));
    bodies.forEach((body, i) => expect(decodeMessage(body!)?.frame.toString()).toContain(sends[i].message.payload as string));
    expect(await Promise.all(sends.map((s) => redis.lrange(keys.inbox(s.u), 0, -1)))).toEqual(sends.map((s) => [s.message.id]));
  });

  it('stores and delivers nothing of a message whose record says recalled, and sends the others', async () => {
    const [u] = users('recalled', 1);
    const [kept, recalled] = [msg('kept'), msg('recalled')];
    await redis.hset(keys.messageRecord(recalled.id), 'state', 'recalled');
    const outcomes = await sendBatch(redis, [{ message: recalled, userIds: [u] }, { message: kept, userIds: [u] }], OPTS);
    expect(outcomes[0].error).toBeInstanceOf(MessageRecalledError);
    expect(outcomes[0].counts.delivered).toBe(0);
    expect(outcomes[1]).toEqual({ counts: { delivered: 1, skipped: 0, dropped: 0, replaced: 0, droppedIds: [] } });
    expect(await redis.lrange(keys.inbox(u), 0, -1)).toEqual([kept.id]);
    expect(await redis.exists(keys.message(recalled.id))).toBe(0);
  });
});

/** Script calls the server has run so far (EVAL and EVALSHA, from INFO commandstats). */
async function scriptCalls(redis: HeraldRedis): Promise<number> {
  const info = await redis.info('commandstats');
  let calls = 0;
  for (const match of info.matchAll(/^cmdstat_(eval|evalsha):calls=(\d+)/gm)) calls += Number(match[2]);
  return calls;
}

describe('on a 3-master Redis Cluster', () => {
  let cluster: RedisCluster;
  let redis: HeraldRedis;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    const nodes = cluster.nodes.map((node) => ({ host: node.split(':')[0], port: Number(node.split(':')[1]) }));
    redis = createRedis({ REDIS_URL: undefined, REDIS_CLUSTER_NODES: nodes }, 'commands', 'batch-cluster-test');
  }, 60_000);

  afterAll(async () => {
    if (redis) await closeRedis(redis);
    await cluster?.stop();
  }, 30_000);

  it('delivers users on every node their messages in order, each body readable, in chunks', async () => {
    expect(redis).toBeInstanceOf(Cluster);
    const everyone = users('cl', 40);
    const messages = Array.from({ length: 30 }, (_, i) => msg({ i }));
    const items = messages.map((message, i) => ({ message, userIds: i % 3 === 2 ? [] : everyone.slice(i % 10, (i % 10) + 20) }));
    const outcomes = await sendBatch(redis, items, { ...OPTS, chunkSize: 50 });
    expect(outcomes.every((o) => o.error === undefined)).toBe(true);
    for (const user of everyone) {
      const expected = items.filter((item) => item.userIds.includes(user)).map((item) => item.message.id);
      expect(await redis.lrange(keys.inbox(user), 0, -1)).toEqual(expected);
    }
    expect((await loadMessages(redis, messages.map((m) => m.id))).every((body) => body !== null)).toBe(true);
  }, 60_000);
});
