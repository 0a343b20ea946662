/**
 * The exposure write-ahead logs on a three-master Redis Cluster: each gateway process's log is on
 * its own slot, so the push paths of three gateways write to three masters (before, every log
 * shared `{herald:exposures}` and one master took them all); a dead gateway's log, on another
 * slot than the spill, is still rescued into the spill and published.
 *
 * The three log ids are picked so that their slots belong to the three masters (log ids are
 * random in production: logs spread over the masters like users do); the test then checks, on
 * each master's own connection, that the log a publisher wrote while pushing is there.
 */
import Redis from 'ioredis';
import { ackSpill, ensureSpillGroup, keys, readSpill, spilledEvents, spillExposures, spillLength, writeWalBatch, type HeraldRedis } from '@herald/redis';
import { startRedisCluster, waitFor, type RedisCluster } from '@herald/testing';
import { ExposurePublisher } from '../src/exposure/exposure-publisher';
import { closeRedis, connect, newMetrics, silent, startTopic, type Metrics, type TopicRig } from './exposure-stage-rig';

const CLAIM_MS = 300;

let cluster: RedisCluster;
let rig: TopicRig;
let redis: HeraldRedis;
let log: HeraldRedis;
let m: Metrics;
/** One plain connection per master, by host:port. */
const masters = new Map<string, Redis>();
const publishers: ExposurePublisher[] = [];

beforeAll(async () => {
  [cluster, rig] = await Promise.all([startRedisCluster(), startTopic()]);
  redis = connect({ nodes: cluster.nodesEnv }, 'commands');
  log = connect({ nodes: cluster.nodesEnv }, 'log');
  m = newMetrics();
  for (const node of cluster.nodes) {
    const [host, port] = node.split(':');
    masters.set(node, new Redis({ host, port: Number(port) }));
  }
}, 90_000);

afterAll(async () => {
  rig?.server.resume();
  await Promise.all(publishers.map((p) => p.close(2_000)));
  for (const master of masters.values()) master.disconnect();
  await closeRedis(redis);
  await closeRedis(log);
  await rig?.close();
  await cluster?.stop();
}, 60_000);

/** The master (host:port) that serves a key's slot, from CLUSTER SLOTS. */
async function ownerOf(key: string): Promise<string> {
  const any = masters.values().next().value as Redis;
  const slot = (await any.cluster('KEYSLOT', key)) as number;
  const ranges = await any.cluster('SLOTS');
  const [, , [host, port]] = ranges.find(([from, to]) => slot >= from && slot <= to)!;
  return `${host}:${port}`;
}

/** A log id whose log lives on `master` (a few tries: each master serves a third of the slots). */
async function walIdOn(master: string, prefix: string): Promise<string> {
  for (let k = 0; k < 200; k++) if ((await ownerOf(keys.exposureWal(`${prefix}-${k}`))) === master) return `${prefix}-${k}`;
  throw new Error(`no log id ${prefix}-<n> has its log on ${master}: do the logs all share one slot?`);
}

function publisher(gatewayId: string, walId: string): ExposurePublisher {
  const p = new ExposurePublisher({
    publisher: rig.topic,
    redis,
    log,
    gatewayId,
    walId,
    bufferMax: 100,
    batchMax: 10,
    batchWaitMs: 5,
    eventsPerMessage: 3,
    compression: 'none',
    claimIdleMs: CLAIM_MS,
    spill: { maxEvents: 1000, maxAgeMs: 0 },
    logWaitMs: 5_000,
    ...m,
    logger: silent,
  });
  publishers.push(p);
  return p;
}

it("writes the logs of three gateways to three masters, and rescues a dead gateway's log into the spill", async () => {
  const nodes = [...masters.keys()];
  const gateways = await Promise.all(nodes.map(async (node, i) => publisher(`gw-${i}`, await walIdOn(node, `gw-${i}`))));

  // Pub/Sub frozen: every event pushed stays in its gateway's log.
  rig.server.pause();
  let sent = 0;
  gateways.forEach((p, i) => {
    const part = p.sessionPart(`user-${i}`, `session-${i}`);
    for (let n = 0; n < 3; n++) p.record(`m-${i}-${n}`, null, part, 'live', () => ++sent > 0);
  });
  await waitFor(() => sent === 9, { what: 'every push out' });

  const owners = await Promise.all(gateways.map((p) => ownerOf(keys.exposureWal(p.walId))));
  expect(new Set(owners).size).toBe(3);
  for (const [i, p] of gateways.entries()) {
    // Asked on the master itself: a key of another master's slot would answer MOVED.
    const logged = Object.values(await masters.get(owners[i])!.hgetall(keys.exposureWal(p.walId)))
      .flatMap((batch) => batch.split('\n'))
      .map((line) => (JSON.parse(line) as { messageId: string }).messageId);
    expect(logged.sort()).toEqual([0, 1, 2].map((n) => `m-${i}-${n}`));
  }

  // A gateway killed outright: its log (on a master other than the spill's) stays, its heartbeat
  // stops. A live gateway claims it, copies it into the spill, and removes it.
  const spillOwner = await ownerOf(keys.exposureSpill);
  const dead = await walIdOn(nodes.find((node) => node !== spillOwner)!, 'dead');
  await writeWalBatch(redis, dead, 1, ['{"eventId":"dead-0"}', '{"eventId":"dead-1"}']);
  await redis.zadd(keys.exposureWals, 0, dead);
  await waitFor(async () => (await m.outcome('rescued')) === 2, { timeoutMs: 20_000, what: 'the dead log rescued' });
  expect(await redis.exists(keys.exposureWal(dead))).toBe(0);
  expect(await redis.zscore(keys.exposureWals, dead)).toBeNull();
  // Pub/Sub is still frozen: the rescued events wait in the spill (being replayed, not yet acknowledged).
  expect(await spillLength(redis)).toBe(2);
  // The live gateways' logs were left alone.
  for (const p of gateways) expect(await redis.hlen(keys.exposureWal(p.walId))).toBeGreaterThan(0);

  rig.server.resume();
  await waitFor(() => rig.received.filter((r) => r.includes('"dead-')).length === 2, { timeoutMs: 30_000, what: 'the rescued events published' });
  await waitFor(() => rig.received.filter((r) => r.includes('"m-')).length >= 9, { timeoutMs: 30_000, what: 'the pushed events published' });
  await waitFor(async () => (await spillLength(redis)) === 0, { what: 'the spill emptied' });
  expect(await spilledEvents(redis)).toBe(0);
}, 90_000);

it('spills packed events as one entry on a Cluster, counted beside the stream on its slot', async () => {
  const stream = { key: '{cluster-spill}:s', events: '{cluster-spill}:s:events', group: 'g' };
  await ensureSpillGroup(redis, stream);
  const result = await spillExposures(redis, [{ data: Buffer.from('{"eventId":"p-0"}\n{"eventId":"p-1"}'), count: 2 }, '{"eventId":"p-2"}'], { maxEvents: 3, maxAgeMs: 0 }, stream);
  expect(result).toEqual({ spilled: 3, refused: 0, expired: 0 });
  expect(await spilledEvents(redis, stream)).toBe(3);
  const read = await readSpill(redis, 'gw-cluster', 10, 60_000, stream);
  expect(read.map(({ data, count }) => ({ data, count }))).toEqual([
    { data: '{"eventId":"p-0"}\n{"eventId":"p-1"}', count: 2 },
    { data: '{"eventId":"p-2"}', count: 1 },
  ]);
  expect(await ackSpill(redis, read, stream)).toBe(2);
  expect(await spilledEvents(redis, stream)).toBe(0);
});
