/**
 * The spill stage on a real redis-server and the real Pub/Sub emulator: events spilled in order
 * are replayed through the pump once it has room, until the spill is empty (the publisher's
 * choice between memory and the spill: exposure-overflow.spec.ts); a replay that
 * fails because its group was destroyed starts again and makes the group again; a dead process's
 * log is rescued into the spill and published, never the replayer's own; close() is idempotent
 * and stops the sweep.
 */
import { keys, spilledEvents, spillLength, writeWalBatch, type HeraldRedis } from '@herald/redis';
import { startRedisServer, waitFor, type RedisServer } from '@herald/testing';
import { PublishPump } from '../src/exposure/publish-pump';
import { SpillReplayer } from '../src/exposure/spill-replayer';
import { UNLOGGED, type Pending } from '../src/exposure/stage';
import { closeRedis, connect, newMetrics, silent, startTopic, type Metrics, type TopicRig } from './exposure-stage-rig';

const CLAIM_MS = 200;

let server: RedisServer;
let redis: HeraldRedis;
let rig: TopicRig;
let m: Metrics;
let pump: PublishPump;
let replayer: SpillReplayer;
const settled: Pending[] = [];

beforeAll(async () => {
  [server, rig] = await Promise.all([startRedisServer(), startTopic()]);
  redis = connect(server, 'commands');
  m = newMetrics();
  pump = new PublishPump({
    publisher: rig.topic,
    bufferMax: 10,
    batchMax: 10,
    batchWaitMs: 5,
    eventsPerMessage: 3,
    compression: 'none',
    now: Date.now,
    ...m,
    logger: silent,
    settled: () => undefined,
    drained: () => replayer.replay(),
  });
  replayer = new SpillReplayer({
    redis,
    consumer: 'gw-replay',
    walId: 'own-log',
    batchMax: 4,
    waitingMax: 100,
    claimIdleMs: CLAIM_MS,
    bounds: { maxEvents: 1000, maxAgeMs: 0 },
    pump,
    ...m,
    logger: silent,
    settled: (event) => settled.push(event),
    replayed: () => undefined,
  });
}, 60_000);

afterAll(async () => {
  await replayer?.close();
  await pump?.close();
  await rig?.close();
  await closeRedis(redis);
  await server?.stop();
}, 30_000);

const event = (tag: string, n: number) => JSON.stringify({ eventId: `${tag}-${n}` });
const got = (tag: string) => rig.received.filter((r) => r.includes(`"${tag}-`));

async function spill(tag: string, n: number): Promise<void> {
  replayer.startOverflowing(0);
  const before = settled.length;
  for (let i = 0; i < n; i++) replayer.add({ data: event(tag, i), batch: UNLOGGED, count: 1 });
  await waitFor(() => settled.length === before + n, { what: `${n} events in the spill` });
}

it('spills while overflowing, replays through the pump once it has room, then has no backlog', async () => {
  rig.server.pause();
  try {
    await spill('spilled', 10);
    expect(await spillLength(redis)).toBe(10);
    expect(replayer.overflowing).toBe(true);
    expect(replayer.backlog).toBe(true);
    expect(replayer.active).toBe(true);
  } finally {
    rig.server.resume();
  }
  replayer.stopOverflowing();
  replayer.replay();
  await waitFor(() => !replayer.active, { timeoutMs: 30_000, what: 'the replay done' });
  expect(replayer.backlog).toBe(false);
  expect(await spillLength(redis)).toBe(0);
  expect(await m.outcome('replayed')).toBe(10);
  await waitFor(() => got('spilled').length === 10, { timeoutMs: 30_000, what: 'all spilled events received' });
}, 60_000);

it('spills packed events as one entry each, counts them by their events, and replays every one', async () => {
  // Four entries of three packed exposures (UTF-8 bytes, as the log packs them) and one alone.
  const packed = (k: number): Pending => ({ data: Buffer.from([0, 1, 2].map((j) => event('packed', 3 * k + j)).join('\n')), batch: UNLOGGED, count: 3 });
  const entries = [packed(0), packed(1), { data: event('packed', 12), batch: UNLOGGED, count: 1 }, packed(2), packed(3)];
  const spilledBefore = await m.outcome('spilled');
  const replayedBefore = await m.outcome('replayed');
  rig.server.pause();
  try {
    replayer.startOverflowing(0);
    const before = settled.length;
    for (const entry of entries) replayer.add(entry);
    await waitFor(() => settled.length === before + entries.length, { what: 'the entries in the spill' });
    expect(await spillLength(redis)).toBe(5);
    expect(await spilledEvents(redis)).toBe(13);
    expect((await m.outcome('spilled')) - spilledBefore).toBe(13);
  } finally {
    rig.server.resume();
  }
  replayer.stopOverflowing();
  replayer.replay();
  await waitFor(() => !replayer.active, { timeoutMs: 30_000, what: 'the replay done' });
  expect(await spilledEvents(redis)).toBe(0);
  expect((await m.outcome('replayed')) - replayedBefore).toBe(13);
  await waitFor(() => got('packed').length === 13, { timeoutMs: 30_000, what: 'every packed event received' });
  expect(new Set(got('packed'))).toEqual(new Set(Array.from({ length: 13 }, (_, i) => event('packed', i))));
}, 60_000);

it('starts a replay again after its group was destroyed, and makes the group again', async () => {
  await redis.xgroup('DESTROY', keys.exposureSpill, keys.spillGroup);
  await spill('regroup', 5);
  replayer.replay();
  await waitFor(() => got('regroup').length === 5 && !replayer.active, { timeoutMs: 30_000, what: 'replayed after NOGROUP' });
  const groups = (await redis.xinfo('GROUPS', keys.exposureSpill)) as unknown[][];
  expect(groups.map((g) => g[1])).toEqual([keys.spillGroup]);
  expect(await spillLength(redis)).toBe(0);
}, 60_000);

it("rescues a dead process's log into the spill and publishes it, never its own", async () => {
  await redis.zadd(keys.exposureWals, 0, 'dead-log', 0, 'own-log');
  await writeWalBatch(redis, 'dead-log', 2, [event('rescued', 2)]);
  await writeWalBatch(redis, 'dead-log', 1, [event('rescued', 0), event('rescued', 1)]);
  await writeWalBatch(redis, 'own-log', 1, [event('own', 0)]);
  await waitFor(() => got('rescued').length === 3, { timeoutMs: 30_000, what: 'the dead log published' });
  expect(got('rescued').map((r) => (JSON.parse(r) as { eventId: string }).eventId).sort()).toEqual(['rescued-0', 'rescued-1', 'rescued-2']);
  expect(await redis.exists(keys.exposureWal('dead-log'))).toBe(0);
  expect(await redis.zscore(keys.exposureWals, 'dead-log')).toBeNull();
  expect(await redis.hlen(keys.exposureWal('own-log'))).toBe(1);
  expect(await m.outcome('rescued')).toBe(3);
}, 60_000);

it('close() is idempotent and stops the sweep', async () => {
  const closing = replayer.close();
  expect(replayer.close()).toBe(closing);
  await closing;
  await redis.zadd(keys.exposureWals, 0, 'dead-after-close');
  await writeWalBatch(redis, 'dead-after-close', 1, [event('late', 0)]);
  // Five sweep periods: a sweep still running would have rescued it.
  await new Promise((resolve) => setTimeout(resolve, CLAIM_MS * 5));
  expect(await redis.hlen(keys.exposureWal('dead-after-close'))).toBe(1);
});
