/**
 * The event outbox's write window (EVENTS_OUTBOX_WINDOW_MS): the appends of one window share one
 * Redis round, in order, and each append resolves only once Redis holds its events; close()
 * appends what waits, and appends after it still reach Redis.
 */
import { Registry } from 'prom-client';
import { createLogger } from '@herald/logger';
import { closeRedis, createRedis, EVENT_OUTBOX, type HeraldRedis } from '@herald/redis';
import { startRedisServer, type RedisServer } from '@herald/testing';
import { decodeEntry, EventOutbox, type OutboxEvent } from '../src/events/event-outbox';
import { createIngestMetrics } from '../src/metrics';

let server: RedisServer;
let redis: HeraldRedis;
beforeAll(async () => {
  server = await startRedisServer();
  redis = createRedis({ REDIS_URL: server.url, REDIS_CLUSTER_NODES: undefined }, 'commands', 'outbox-window');
});
afterAll(async () => {
  await closeRedis(redis);
  await server.stop();
});

let metrics = createIngestMetrics(new Registry());
const outbox = (windowMs: number) => {
  metrics = createIngestMetrics(new Registry());
  return new EventOutbox({
    redis,
    bounds: { maxEvents: 1_000_000, maxAgeMs: 0 },
    metrics,
    logger: createLogger({ app: 'ingest-test', level: 'silent' }),
    windowMs,
  });
};
const outcome = async (name: string) => (await metrics.outbox.get()).values.find((v) => v.labels.outcome === name)?.value ?? 0;
const event = (n: number): OutboxEvent => ({ kind: 'sent', json: `{"n":${n}}` });
/** The outbox's entries, in stream order, as their JSON. */
const stored = async () => (await redis.xrange(EVENT_OUTBOX.key, '-', '+')).map(([, fields]) => decodeEntry(fields[1])?.json);
/** Script calls Redis has run so far (the append is one). */
const scriptCalls = async () => {
  const stats = await redis.info('commandstats');
  return [...stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
};

beforeEach(async () => {
  await redis.del(EVENT_OUTBOX.key);
});

it('appends the requests of one window in one Redis round, in order, each resolving once Redis holds it', async () => {
  const events = outbox(60_000);
  // The first after a quiet spell goes at the next turn.
  await events.append([event(0)]);
  expect(await stored()).toEqual(['{"n":0}']);

  // The next ones fall in the window: held, then written together.
  const before = await scriptCalls();
  let resolved = 0;
  const appends = [1, 2, 3].map((n) => events.append([event(n), event(n * 10)]).then(() => resolved++));
  await new Promise((resolve) => setImmediate(resolve));
  expect(resolved).toBe(0);
  expect(await stored()).toEqual(['{"n":0}']);
  // Shutdown: what waits is appended now.
  await events.close();
  await Promise.all(appends);
  expect(await stored()).toEqual(['{"n":0}', '{"n":1}', '{"n":10}', '{"n":2}', '{"n":20}', '{"n":3}', '{"n":30}']);
  // One script call for the three requests.
  expect((await scriptCalls()) - before).toBe(1);

  // After close an append goes to Redis at once.
  await events.append([event(4)]);
  expect((await stored()).at(-1)).toBe('{"n":4}');
});

it('with a window of 0, appends the requests of one turn together', async () => {
  const events = outbox(0);
  const before = await scriptCalls();
  await Promise.all([events.append([event(1)]), events.append([event(2)]), events.append([])]);
  expect(await stored()).toEqual(['{"n":1}', '{"n":2}']);
  expect((await scriptCalls()) - before).toBe(1);
  await events.close();
});

it("resolves a request's append only once Redis has answered it, a refusal included", async () => {
  const events = outbox(0);
  // Redis refuses the append (the outbox key holds a string): counted before the requests go on.
  await redis.set(EVENT_OUTBOX.key, 'not a stream');
  await Promise.all([events.append([event(1)]), events.append([event(2), event(3)])]);
  expect(await outcome('failed')).toBe(3);
  await redis.del(EVENT_OUTBOX.key);
  await events.append([event(4)]);
  expect(await outcome('appended')).toBe(1);
  await events.close();
});
