/**
 * Exposure faults that used to turn into other outages, against real processes (two gateways,
 * ingest, the consumer, a private redis-server, the Pub/Sub emulator, Postgres):
 * - a gateway whose clock is 25 s ahead must not take its live peer's write-ahead log for dead;
 * - a spill replay that fails (its consumer group destroyed mid-spill) starts again, the spill
 *   drains and every event is stored once;
 * - a long Pub/Sub outage with a small Redis: the spill stops at its bound, Redis keeps room for
 *   deliveries, and when Redis refuses writes after all, stored messages are still pushed.
 * One stack; each test has its own users, compares counters with its own readings taken before
 * the fault, and undoes its fault (Pub/Sub resumed, maxmemory lifted, the skewed gateway stopped)
 * in a `finally`, so each passes alone and in any order.
 */
import Redis from 'ioredis';
import { keys, spilledEvents } from '@herald/redis';
import {
  signToken,
  startApp,
  startPostgres,
  startTestStack,
  TestClient,
  waitFor,
  type AppProcess,
  type Stack,
  type TestPostgres,
} from '@herald/testing';
import { ExposureStore, pairKey } from '../support/exposure-store';
import { StackClient } from '../support/stack-client';

/** Small enough to spill soon; large enough that a stalled write-ahead log stalls pushes (it did below it). */
const BUFFER_MAX = 1000;
const SPILL_MAX = 1000;
const CLAIM_MS = 1000;

let pg: TestPostgres;
let stack: Stack;
let c: StackClient;
let store: ExposureStore;
/** The test's own Redis connection (to look at the spill and logs, and to cause faults). */
let oracle: Redis;
const started: AppProcess[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  pg = await startPostgres({});
  ({ stack } = await startTestStack({
    DATABASE_URL: pg.url,
    EXPOSURE_TOPIC: 'exposures-outages',
    EXPOSURE_SUBSCRIPTION: 'exposures-outages-consumer',
    EXPOSURE_BUFFER_MAX: String(BUFFER_MAX),
    EXPOSURE_BATCH_MAX_MESSAGES: '50',
    EXPOSURE_SPILL_CLAIM_MS: String(CLAIM_MS),
    EXPOSURE_SPILL_MAX_EVENTS: String(SPILL_MAX),
    // Unacknowledged messages stay in the inboxes: keep them small, the Redis here is.
    INBOX_CAP: '20',
    CONSUMER_BATCH_MAX_MS: '50',
  }));
  c = await StackClient.create(stack);
  store = new ExposureStore(pg.url);
  oracle = new Redis(stack.env.REDIS_URL!, { maxRetriesPerRequest: 1 });
}, 120_000);

afterAll(async () => {
  stack?.pubsub?.resume();
  await Promise.all(clients.map((client) => client.close()));
  await oracle?.config('SET', 'maxmemory', '0').catch(() => undefined);
  oracle?.disconnect();
  for (const app of started) await app.stop();
  await stack?.stop();
  await pg?.stop();
}, 60_000);

async function connect(userId: string, gateway?: AppProcess): Promise<TestClient> {
  const client = gateway
    ? await TestClient.connect(`${gateway.url.replace(/^http/, 'ws')}/ws`, await signToken(userId))
    : await c.connect(userId);
  if (gateway) await client.waitForFrame('welcome');
  clients.push(client);
  return client;
}

async function sendEach(userIds: string[], n: number): Promise<Map<string, string[]>> {
  const sent = new Map<string, string[]>(userIds.map((u) => [u, []]));
  for (let i = 0; i < n; i++) for (const user of userIds) sent.get(user)!.push(await c.send([user], { i }));
  return sent;
}

const outcome = (name: string, gateway = stack.apps.gateway) =>
  c.counter(gateway, `herald_exposures_published_total{outcome="${name}"}`);
const spillLength = () => oracle.xlen(keys.exposureSpill);

/** Write-ahead logs holding events: log id -> its batch numbers. */
async function liveLogs(): Promise<Map<string, string[]>> {
  const logs = new Map<string, string[]>();
  for (const walId of await oracle.zrange(keys.exposureWals, 0, -1)) {
    const batches = await oracle.hkeys(keys.exposureWal(walId));
    if (batches.length > 0) logs.set(walId, batches.sort());
  }
  return logs;
}

/** The (message, session) pairs a client was pushed. */
function pushed(client: TestClient): string[] {
  const sessionId = (client.frames[0] as { sessionId: string }).sessionId;
  return client.messages().map((m) => pairKey(m.id, sessionId));
}

it('a gateway whose clock is 25 s ahead rescues nothing from a live peer', async () => {
  const ahead = await startApp({ name: 'gateway', env: { ...stack.env, HERALD_TEST_CLOCK_OFFSET_MS: '25000' }, onLine: () => undefined });
  started.push(ahead);
  const rescuedBefore = await outcome('rescued');
  try {
    const onPeer = await connect('skew-peer');
    const onAhead = await connect('skew-ahead', ahead);

    // Pub/Sub takes nothing: every event pushed stays in its gateway's write-ahead log.
    stack.pubsub!.pause();
    await sendEach(['skew-peer', 'skew-ahead'], 5);
    await onPeer.waitForMessages(5);
    await onAhead.waitForMessages(5);
    const logs = await liveLogs();
    expect(logs.size).toBe(2);

    // Logs of a process that really stopped (heartbeat 0 by Redis's clock) are rescued, one after
    // another: each one gone shows that the gateways swept since.
    for (let round = 0; round < 3; round++) {
      const dead = `skew-dead-${round}`;
      const event = {
        eventId: `${dead}-e`,
        messageId: `${dead}-m`,
        category: null,
        userId: 'skew-dead',
        sessionId: `${dead}-s`,
        gatewayId: 'gone',
        deliveredAt: new Date().toISOString(),
        via: 'live',
      };
      await oracle.zadd(keys.exposureWals, 0, dead);
      await oracle.hset(keys.exposureWal(dead), '1', JSON.stringify(event));
      // Swept every CLAIM_MS; the deadline is generous for a busy 2-core machine.
      await waitFor(async () => (await oracle.exists(keys.exposureWal(dead))) === 0, { timeoutMs: 30_000, what: `the dead log ${dead} rescued` });
    }

    // Both live logs are intact, and the only events rescued were the dead ones.
    expect(await liveLogs()).toEqual(logs);
    expect((await outcome('rescued')) - rescuedBefore + (await outcome('rescued', ahead))).toBe(3);
  } finally {
    stack.pubsub!.resume();
    // Its clients and log go with it; the next test sees one gateway with a true clock.
    await ahead.stop();
  }
}, 120_000);

it('replays the spill after its consumer group was destroyed mid-spill: the spill drains and every event is stored once', async () => {
  const users = Array.from({ length: 10 }, (_, i) => `replay-${i}`);
  const devices = await Promise.all(users.map((u) => connect(u)));
  const spilledPast = async (n: number) => {
    const before = await outcome('spilled');
    let sent = 0;
    while ((await outcome('spilled')) - before < n) {
      await c.send(users, { sent: sent++ });
      if (sent > 200) throw new Error('nothing spilled after 200 sends');
    }
  };

  // A first outage: the gateway spills, then replays (and so has its consumer group).
  stack.pubsub!.pause();
  try {
    await spilledPast(50);
  } finally {
    stack.pubsub!.resume();
  }
  await waitFor(async () => (await spillLength()) === 0, { timeoutMs: 60_000, what: 'the first spill replayed' });

  // A second one: the group is destroyed while events sit in the spill, and more come after.
  stack.pubsub!.pause();
  try {
    await spilledPast(50);
    expect(await oracle.xgroup('DESTROY', keys.exposureSpill, keys.spillGroup)).toBe(1);
    await spilledPast(20);
  } finally {
    stack.pubsub!.resume();
  }
  await waitFor(async () => (await spillLength()) === 0, { timeoutMs: 60_000, what: 'the spill to drain after its group was destroyed' });

  const expected = devices.flatMap(pushed);
  const counts = await store.waitForPairs(expected, 'replay-', 90_000);
  expect([...counts.keys()].sort()).toEqual([...expected].sort());
  expect([...counts.values()].every((n) => n === 1)).toBe(true);
}, 240_000);

it('keeps delivering through a long Pub/Sub outage on a small Redis: the spill stops at its bound, and pushes go out unlogged when Redis refuses writes', async () => {
  // Stored while all is well, for users who connect later.
  const late = await sendEach(['oom-late-1', 'oom-late-2'], 5);
  const users = Array.from({ length: 50 }, (_, i) => `oom-${i}`);
  const devices = await Promise.all(users.map((u) => connect(u)));
  // Room for ~9,000 spilled events (~330 bytes each) over what the stack holds now; the spill's
  // bound is 1,000.
  const used = Number(/used_memory:(\d+)/.exec(await oracle.info('memory'))![1]);
  const droppedBefore = await outcome('dropped');
  const unloggedBefore = await outcome('unlogged');
  await oracle.config('SET', 'maxmemory', String(used + 3 * 1024 * 1024));

  stack.pubsub!.pause();
  try {
    // Pushes (50 per message) until the spill is at its bound, or Redis is full (ingest refuses).
    const statuses: number[] = [];
    let accepted = 0;
    for (let i = 0; i < 300; i++) {
      statuses.push((await c.post({ userIds: users, payload: { i } })).status);
      if (statuses.at(-1) !== 202) break;
      accepted++;
      if (i % 10 === 9 && (await outcome('dropped')) > droppedBefore) break;
    }

    // Every message accepted was pushed to every user; then one with stored messages connects
    // and gets them at once.
    await waitFor(() => devices.every((d) => d.messages().length === accepted), {
      timeoutMs: 10_000,
      what: `${accepted} messages pushed to each of ${users.length} users`,
    });
    const first = await connect('oom-late-1');
    expect((await first.waitForMessages(5, 5_000)).map((m) => m.id)).toEqual(late.get('oom-late-1'));

    // Redis refuses every write now: the write-ahead log too. Pushes go out without it.
    await oracle.config('SET', 'maxmemory', '1');
    const second = await connect('oom-late-2');
    expect((await second.waitForMessages(5, 5_000)).map((m) => m.id)).toEqual(late.get('oom-late-2'));
    expect((await outcome('unlogged')) - unloggedBefore).toBeGreaterThanOrEqual(5);

    // Before that, Redis never filled (ingest took every message): the spill stopped at its
    // bound and counted what it refused.
    expect(statuses.filter((s) => s !== 202)).toEqual([]);
    expect(await outcome('dropped')).toBeGreaterThan(droppedBefore);
    expect(await spilledEvents(oracle)).toBeLessThanOrEqual(SPILL_MAX);
    expect(await spilledEvents(oracle)).toBeGreaterThan(0);
    expect(await c.counter(stack.apps.gateway, 'herald_exposures_spill_oldest_age_seconds')).toBeGreaterThan(0);
  } finally {
    await oracle.config('SET', 'maxmemory', '0');
    stack.pubsub!.resume();
  }
}, 120_000);
