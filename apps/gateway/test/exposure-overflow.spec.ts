/**
 * The spill takes the overflow only (ExposurePublisher on a real redis-server and the real Pub/Sub
 * emulator): once memory is back at half its bound, new events go to memory and are published at
 * once, while what was spilled is still being replayed; nothing is lost and each event is
 * published. Before, every new event went to the spill until a replay had emptied it, so a long
 * burst went through Redis whole (docs/BENCHMARKS.md, "The spill takes the overflow only").
 */
import { spilledEvents, spillLength, type HeraldRedis } from '@herald/redis';
import { startRedisServer, waitFor, type RedisServer } from '@herald/testing';
import { ExposurePublisher } from '../src/exposure/exposure-publisher';
import { closeRedis, connect, newMetrics, silent, startTopic, type Metrics, type TopicRig } from './exposure-stage-rig';

const BUFFER_MAX = 20;
/** Enough that replaying it, ten events per step, outlasts the check below by far. */
const SPILLED = 3000;

let server: RedisServer;
let rig: TopicRig;
let redis: HeraldRedis;
let log: HeraldRedis;
let m: Metrics;
let publisher: ExposurePublisher;

beforeAll(async () => {
  [server, rig] = await Promise.all([startRedisServer(), startTopic()]);
  redis = connect(server, 'commands');
  log = connect(server, 'log');
  m = newMetrics();
  publisher = new ExposurePublisher({
    publisher: rig.topic,
    redis,
    log,
    gatewayId: 'gw-overflow',
    bufferMax: BUFFER_MAX,
    batchMax: 10,
    batchWaitMs: 5,
    eventsPerMessage: 3,
    compression: 'none',
    claimIdleMs: 60_000,
    spill: { maxEvents: 100_000, maxAgeMs: 0 },
    logWaitMs: 10_000,
    ...m,
    logger: silent,
  });
}, 60_000);

afterAll(async () => {
  rig?.server.resume();
  await publisher?.close(5_000);
  await rig?.close();
  await closeRedis(redis);
  await closeRedis(log);
  await server?.stop();
}, 60_000);

const received = (tag: string) => rig.received.filter((r) => r.includes(`"messageId":"${tag}-`)).length;

/** Records `n` pushes of messages `<tag>-<i>`; resolves once every frame went out (after its log write). */
function push(tag: string, n: number): Promise<void> {
  const part = publisher.sessionPart('user-overflow', 'session-overflow');
  let sent = 0;
  return new Promise((resolve) => {
    for (let i = 0; i < n; i++) {
      publisher.record(`${tag}-${i}`, null, part, 'live', () => {
        if (++sent === n) resolve();
        return true;
      });
    }
  });
}

it('sends new events to memory once it is back at half its bound, while the spill is still being replayed', async () => {
  rig.server.pause();
  try {
    await push('burst', BUFFER_MAX + SPILLED);
    await waitFor(async () => (await m.outcome('spilled')) === SPILLED, { timeoutMs: 30_000, what: `${SPILLED} events spilled` });
    expect(await spilledEvents(redis)).toBe(SPILLED);
    // As the log packed them (EVENTS_PER_PUBSUB_MESSAGE 3 here): a third as many entries.
    expect(await spillLength(redis)).toBeLessThanOrEqual(Math.ceil(SPILLED / 3) + 1);
  } finally {
    rig.server.resume();
  }
  // Memory publishes its bound; the replay starts as soon as it has room.
  await waitFor(() => publisher.outstanding === 0, { timeoutMs: 30_000, intervalMs: 5, what: 'memory to be published' });
  await push('after', 5);
  await waitFor(() => received('after') === 5, { timeoutMs: 30_000, intervalMs: 5, what: 'the 5 new events on Pub/Sub' });
  // They went through memory, not behind the spill: none was spilled, and the spill was still
  // being replayed when they had been published.
  expect(await m.outcome('spilled')).toBe(SPILLED);
  expect(await spillLength(redis)).toBeGreaterThan(0);

  await waitFor(() => received('burst') >= BUFFER_MAX + SPILLED, { timeoutMs: 60_000, what: 'every event of the burst on Pub/Sub' });
  await waitFor(async () => (await spillLength(redis)) === 0, { timeoutMs: 30_000, what: 'the spill to be empty' });
  expect(await m.outcome('replayed')).toBe(SPILLED);
  expect(await m.outcome('published')).toBe(BUFFER_MAX + 5);
}, 120_000);
