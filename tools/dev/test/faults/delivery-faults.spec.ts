/**
 * Delivery survives the faults of the gateways and of Redis, against real processes on loopback:
 * three gateways, ingest, the exposure-consumer on Postgres, a Pub/Sub emulator, and Redis run as
 * production runs it (AOF). Clients are devices that acknowledge what they get and reconnect on
 * their own; a producer retries failed sends with the same Idempotency-Key. Each test counts what
 * was sent against what was received, allows duplicates only of messages not acknowledged, and
 * checks the exposure store holds exactly one row per (message, session) pair received.
 *
 * The tests share one stack; each uses its own users and Idempotency-Keys, and passes alone and
 * in any order: after each test, a gateway it killed or stopped is started again (as an
 * orchestrator would) and a Redis it stopped is started again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { keys } from '@herald/redis';
import { freePort, startApp, startPostgres, startRedisServer, startTestStack, TestClient, waitFor, type AppProcess, type RedisServer, type Stack, type TestPostgres } from '@herald/testing';
import { Device } from '../support/devices';
import { ExposureStore } from '../support/exposure-store';
import { expectEveryMessageDelivered, expectExposuresStoredOnce } from '../support/fault-checks';
import { Producer } from '../support/producer';
import { StackClient } from '../support/stack-client';

const GATEWAYS = 3;
/** Small so that a SIGKILLed gateway's written-ahead exposures are rescued quickly. */
const SPILL_CLAIM_MS = 1000;
/** The gateways' shutdown deadline: closing with 1012, flushing exposures, exiting. */
const SHUTDOWN_TIMEOUT_MS = 5000;
/** Sessions a gateway closes per second when it stops or resyncs: low, so the spread shows. */
const WS_CLOSE_RATE = 100;
/** Live traffic: one message every this many ms, to one user in turn. */
const SEND_EVERY_MS = 15;

let pg: TestPostgres;
let redis: RedisServer;
let stack: Stack;
let lines: string[];
let c: StackClient;
let store: ExposureStore;
/** The test's own view of Redis: the users' offline lists (the duplicate oracle). */
let oracle: Redis;
/** Gateways a load balancer offers now (indices of stack.gateways). */
let live: number[] = [];
/** Gateways started by the tests (the stack stops only its own). */
const replacements: AppProcess[] = [];

beforeAll(async () => {
  pg = await startPostgres({});
  redis = await startRedisServer({ persistent: true });
  ({ stack, lines } = await startTestStack(
    {
      REDIS_URL: redis.url,
      DATABASE_URL: pg.url,
      EXPOSURE_TOPIC: 'exposures-delivery-faults',
      EXPOSURE_SUBSCRIPTION: 'exposures-delivery-faults-consumer',
      EXPOSURE_SPILL_CLAIM_MS: String(SPILL_CLAIM_MS),
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      WS_CLOSE_RATE: String(WS_CLOSE_RATE),
      // A producer retrying after a failure takes over its own key after this lease.
      IDEMPOTENCY_LEASE_MS: '1000',
      // Drains in small steps, so a gateway is caught in the middle of one.
      DRAIN_BATCH_SIZE: '20',
      CONSUMER_BATCH_MAX_MS: '50',
    },
    { gateways: GATEWAYS },
  ));
  c = await StackClient.create(stack);
  store = new ExposureStore(pg.url);
  oracle = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  oracle.on('error', () => undefined); // Redis restarting: reads fail and are retried
  live = stack.gateways.map((_, i) => i);
}, 180_000);

afterAll(async () => {
  await oracle?.quit();
  for (const app of replacements) await app.stop();
  await stack?.stop();
  await redis?.stop();
  await pg?.stop();
}, 90_000);

/** What the user has not acknowledged: its offline list, and its categories' log entries after its positions. */
async function pending(userId: string): Promise<string[]> {
  const [ids, categories, positions] = await Promise.all([
    oracle.lrange(keys.inbox(userId), 0, -1),
    oracle.smembers(keys.userCategories(userId)),
    oracle.hgetall(keys.categoryPositions(userId)),
  ]);
  for (const category of categories) {
    const after = positions[category];
    const entries = await oracle.xrange(keys.categoryLog(category), after ? `(${after}` : '-', '+');
    for (const [, fields] of entries) ids.push(fields[1]);
  }
  return ids;
}
const devicesFor = (users: string[]) => users.map((u) => new Device(c, u, { gateways: () => live, inbox: pending }));
const stopAll = (devices: Device[]) => Promise.all(devices.map((d) => d.stop()));
const framesReceived = (devices: Device[]) => devices.reduce((n, d) => n + d.sessions.reduce((m, s) => m + s.ids.length, 0), 0);
const exited = (app: AppProcess) => app.child.exitCode !== null || app.child.signalCode !== null;
const exitOf = (app: AppProcess) =>
  new Promise<number | null>((resolve) => (exited(app) ? resolve(app.child.exitCode) : app.child.once('exit', (code) => resolve(code))));

/** Starts again any gateway that a test killed or stopped, as an orchestrator would. */
async function restartDeadGateways(): Promise<void> {
  for (const [i, app] of stack.gateways.entries()) {
    if (!exited(app)) continue;
    const port = await freePort();
    const replacement = await startApp({ name: 'gateway', port, env: stack.env, onLine: (name, line) => lines.push(`[${name}] ${line}`) });
    replacements.push(replacement);
    stack.gateways[i] = replacement;
  }
  live = stack.gateways.map((_, i) => i);
}

afterEach(async () => {
  await redis.startServer();
  await restartDeadGateways();
}, 60_000);

/**
 * Resolves once `more` further messages have been sent to `users` after the call: with one
 * message to one user in turn, `users.length` more means each user got one after the fault.
 */
function trafficAfter(producer: Producer, users: readonly string[], more: number, what: string): Promise<unknown> {
  const target = producer.total(users) + more;
  return waitFor(() => producer.total(users) >= target, { timeoutMs: 30_000, intervalMs: 20, what: `${more} sends ${what}` });
}

/**
 * Every device connects to gateway `a` and drains its `offline` messages there; `a` is SIGKILLed
 * once a fifth of them were delivered, in the middle of many drains, and the load balancer stops
 * offering it. Returns the ids of the sessions `a` held.
 */
async function killMidDrain(devices: Device[], a: number, offline: number): Promise<Set<string>> {
  live = live.filter((g) => g !== a);
  await Promise.all(devices.map((d) => d.connect(a)));
  await waitFor(() => framesReceived(devices) >= (devices.length * offline) / 5, { intervalMs: 2, what: 'a fifth of the drain' });
  stack.gateways[a].child.kill('SIGKILL');
  const atKill = devices.map((d) => d.received().size);
  const sessionsOnA = new Set(devices.flatMap((d) => d.sessions.filter((s) => s.gateway === a).map((s) => s.sessionId)));
  await waitFor(() => exited(stack.gateways[a]), { what: 'the gateway to die' });
  // The kill hit drains in progress.
  expect(atKill.filter((n) => n < offline).length).toBeGreaterThanOrEqual(devices.length / 4);
  return sessionsOnA;
}

/** Every process still running answers /readyz 200: it recovered without a restart by hand. */
async function expectAllReady(): Promise<void> {
  const apps = [...stack.gateways, stack.apps.ingest, stack.apps['exposure-consumer']].filter((app) => !exited(app));
  await waitFor(
    async () => {
      const statuses = await Promise.all(apps.map((app) => fetch(`${app.url}/readyz`).then((r) => r.status)));
      return statuses.every((s) => s === 200);
    },
    { timeoutMs: 30_000, intervalMs: 200, what: 'every process to be ready again' },
  );
}

it('gateway SIGKILLed mid-drain: clients drain again on another gateway; nothing lost, each push received stored once', async () => {
  const USERS = 40;
  const OFFLINE = 400;
  const A = 1;
  const users = Array.from({ length: USERS }, (_, i) => `kill-${i}`);
  const producer = new Producer(c, 'kill');
  // Offline first: OFFLINE messages for every user (one POST names all of them).
  for (let i = 0; i < OFFLINE; i++) await producer.send(users, { offline: i });
  const devices = devicesFor(users);
  try {
    const sessionsOnA = await killMidDrain(devices, A, OFFLINE);

    // Live traffic while the clients reconnect elsewhere, and after: until each user was sent one more.
    const reconnected = waitFor(() => devices.every((d) => d.session && d.session.gateway !== A), {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: 'every client to have a session on another gateway',
    }).then(() => trafficAfter(producer, users, USERS, 'after every client reconnected'));
    await producer.run(users, SEND_EVERY_MS, reconnected);
    await reconnected;

    const tally = await expectEveryMessageDelivered(producer, devices);
    // A's sessions ended without a close frame (1006); nothing acknowledged came again (checked above).
    const onA = devices.flatMap((d) => d.sessions.filter((s) => s.gateway === A));
    expect(new Set(onA.map((s) => s.closeCode))).toEqual(new Set([1006]));
    expect(tally.redelivered).toBeGreaterThan(0);
    // A frame written ahead and lost with A may be stored without having been received.
    await expectExposuresStoredOnce(store, producer, devices, {
      userPrefix: 'kill-',
      mayHaveUnreceived: sessionsOnA,
    });
    await expectAllReady();
  } finally {
    await stopAll(devices);
  }
}, 120_000);

it('gateway SIGKILLed mid-drain of category messages: members drain again elsewhere from their positions; nothing lost, each push stored once', async () => {
  const USERS = 30;
  const OFFLINE = 150;
  const A = 0;
  const category = 'kill-news';
  const users = Array.from({ length: USERS }, (_, i) => `catkill-${i}`);
  for (const u of users) await c.setCategories(u, [category]);
  const producer = new Producer(c, 'catkill');
  // Stored once each, in the category's log: nothing per member.
  for (let i = 0; i < OFFLINE; i++) await producer.sendToCategory(category, users, { offline: i });
  const devices = devicesFor(users);
  try {
    const sessionsOnA = await killMidDrain(devices, A, OFFLINE);

    // Live category messages once every member is back on another gateway.
    await waitFor(() => devices.every((d) => d.session && d.session.gateway !== A), {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: 'every client to have a session on another gateway',
    });
    for (let i = 0; i < 10; i++) await producer.sendToCategory(category, users, { live: i });

    const tally = await expectEveryMessageDelivered(producer, devices);
    expect(tally.redelivered).toBeGreaterThan(0);
    await expectExposuresStoredOnce(store, producer, devices, { userPrefix: 'catkill-', mayHaveUnreceived: sessionsOnA });
    await expectAllReady();
  } finally {
    await stopAll(devices);
  }
}, 120_000);

it('SIGTERM on one of three gateways under live traffic: 503 at once, 1012 spread over time, exit 0, nothing lost', async () => {
  const USERS = 60;
  const T = 2;
  const users = Array.from({ length: USERS }, (_, i) => `term-${i}`);
  const producer = new Producer(c, 'term');
  const devices = devicesFor(users);
  let traffic: { stop(): Promise<number> } | undefined;
  try {
    await Promise.all(devices.map((d, i) => d.connect(i % GATEWAYS)));
    traffic = producer.start(users, SEND_EVERY_MS);
    await waitFor(() => producer.total(users) >= 100, { what: 'live traffic to flow' });

    const gateway = stack.gateways[T];
    const exit = exitOf(gateway);
    const openOnT = devices.map((d) => d.session).filter((s) => s?.gateway === T);
    const signalledAt = Date.now();
    gateway.child.kill('SIGTERM');
    // Readiness fails at once: the first answer after the signal is 503.
    const readiness = await waitFor(
      async () => {
        const status = await fetch(`${gateway.url}/readyz`).then((r) => r.status);
        return status !== 200 && { status, afterMs: Date.now() - signalledAt };
      },
      { timeoutMs: 5000, intervalMs: 10, what: 'the stopping gateway to turn unready' },
    );
    live = live.filter((g) => g !== T); // the load balancer drops it
    // New connections are refused while it drains.
    const refusal = await TestClient.refusal(c.wsUrl(T)).catch((err: Error) => ({ status: 0, body: err.message }));

    const code = await exit;
    const exitedAfterMs = Date.now() - signalledAt;
    await waitFor(() => devices.every((d) => d.session && d.session.gateway !== T), {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: 'every client of the stopped gateway to have a session on another',
    });
    await trafficAfter(producer, users, USERS, 'on the two gateways left');
    await traffic.stop();

    expect(readiness).toEqual({ status: 503, afterMs: expect.any(Number) });
    expect(readiness.afterMs).toBeLessThan(1000);
    expect(refusal.status).toBe(503);
    expect(code).toBe(0);
    expect(exitedAfterMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS + 2000);
    // Every session open on T was closed with 1012 (server restarting), not cut off.
    expect(openOnT.length).toBe(USERS / GATEWAYS);
    expect(openOnT.map((s) => s!.closeCode)).toEqual(openOnT.map(() => 1012));
    // ...spread over time at a bounded rate (WS_CLOSE_RATE; at most twice that on average, for
    // timing noise), all before the shutdown deadline.
    const closedAt = openOnT.map((s) => s!.closedAt!).sort((a, b) => a - b);
    const spreadMs = closedAt[closedAt.length - 1] - closedAt[0];
    const closesPerSecond = Math.round((closedAt.length - 1) / (spreadMs / 1000));
    expect(closesPerSecond).toBeLessThanOrEqual(2 * WS_CLOSE_RATE);
    expect(closedAt[closedAt.length - 1] - signalledAt).toBeLessThan(SHUTDOWN_TIMEOUT_MS);

    await expectEveryMessageDelivered(producer, devices);
    await expectExposuresStoredOnce(store, producer, devices, { userPrefix: 'term-' });
    await expectAllReady();
  } finally {
    await traffic?.stop().catch(() => undefined);
    await stopAll(devices);
  }
}, 120_000);

it('Redis restarted under traffic (AOF): sessions closed with 1012 drain again, producers retry with their key, nothing lost', async () => {
  const USERS = 30;
  const OUTAGE_MS = 3000;
  const users = Array.from({ length: USERS }, (_, i) => `redis-${i}`);
  const producer = new Producer(c, 'redis');
  // A user who is offline the whole time: what was written before the restart must be there after.
  const late = 'redis-late';
  for (let i = 0; i < 20; i++) await producer.send([late], { before: i });
  const devices = devicesFor(users);
  let traffic: { stop(): Promise<number> } | undefined;
  try {
    await Promise.all(devices.map((d, i) => d.connect(i % GATEWAYS)));
    traffic = producer.start(users, SEND_EVERY_MS);
    await waitFor(() => producer.total(users) >= 100, { what: 'live traffic to flow' });

    const openAtStop = devices.map((d) => d.session!);
    await redis.stopServer();
    let startedAgainAt: number;
    try {
      await sleep(OUTAGE_MS); // the outage itself, not a condition
      // ...and until it has reached the producer: a request refused (5xx, no Redis), sent again
      // with its key. On a busy machine the paced traffic can go 3 s without a request failing.
      await waitFor(() => producer.retries > 0, { timeoutMs: 20_000, what: 'ingest to refuse a request during the outage' });
    } finally {
      startedAgainAt = Date.now();
      await redis.startServer();
    }
    // After its subscriber reconnects, each gateway closes its sessions with 1012: they drain again.
    const resynced = await waitFor(() => openAtStop.every((s) => s.closedAt !== undefined), {
      timeoutMs: 20_000,
      intervalMs: 50,
      what: 'the sessions open during the restart to be closed',
    }).then(
      () => true,
      () => false, // the assertion below says which were not
    );
    if (resynced) {
      await waitFor(() => devices.every((d) => d.session && !openAtStop.includes(d.session)), {
        timeoutMs: 30_000,
        intervalMs: 50,
        what: 'every client to have a new session',
      });
      await trafficAfter(producer, users, USERS, 'after the recovery');
    }
    await traffic.stop();

    expect(openAtStop.map((s) => s.closeCode)).toEqual(openAtStop.map(() => 1012));
    // ...once Redis was back (a resync), not during the outage.
    expect(openAtStop.filter((s) => s.closedAt! < startedAgainAt)).toEqual([]);
    // The outage reached the producer, which sent again with the same key.
    expect(producer.retries).toBeGreaterThan(0);
    const lateDevice = new Device(c, late, { gateways: () => live, inbox: pending });
    devices.push(lateDevice);
    await lateDevice.connect(0);
    await expectEveryMessageDelivered(producer, devices);
    expect(lateDevice.received().size).toBe(20);
    await expectExposuresStoredOnce(store, producer, devices, { userPrefix: 'redis-' });
    await expectAllReady();
  } finally {
    await traffic?.stop().catch(() => undefined);
    await stopAll(devices);
  }
}, 120_000);
