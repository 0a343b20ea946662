/**
 * The exposure pipeline loses nothing, against real processes under steady traffic: the Pub/Sub
 * emulator frozen for 12 s, the consumer SIGKILLed while it writes, Postgres stopped for 12 s and
 * started again. After each, every message sent has been pushed to its user, and the store holds
 * exactly one row per (message, session) pair actually pushed to a client.
 *
 * One stack; each test has its own users (and so its own rows in the store), connects and closes
 * its own clients, and undoes its fault in a `finally`, so each passes alone and in any order.
 * What the tests cannot reset is the Pub/Sub emulator: after the consumer was SIGKILLed, Google's
 * emulator made the Postgres test's recovery ~20 s slower (measured with a 30 s outage: 39 s alone,
 * 55–59 s after the kill; 37 s after the kill on Herald's emulator), so its deadlines leave room
 * for that.
 */
import { randomUUID } from 'node:crypto';
import { freePort, startApp, startPostgres, startTestStack, TestClient, waitFor, type AppProcess, type Stack, type TestPostgres } from '@herald/testing';
import { ExposureStore, pairKey } from '../support/exposure-store';
import { StackClient } from '../support/stack-client';

const USERS = 20;
const SEND_EVERY_MS = 20;
/**
 * How long each outage lasts: the fault itself. Long enough to outlast the gateway's memory bound
 * (EXPOSURE_BUFFER_MAX 200 events fill in 4 s of this traffic: the Pub/Sub test checks the spill
 * was used) and the consumer's ack deadline (10 s: events leased before Postgres stopped come back
 * while it is down).
 */
const OUTAGE_MS = 12_000;
/** Messages sent before a fault and after its end, so each side of it carries traffic. */
const SENDS_AROUND_FAULT = 50;

let pg: TestPostgres;
let stack: Stack;
let c: StackClient;
let store: ExposureStore;
/** Apps started by a test to replace killed ones (the stack stops only its own). */
const replacements: AppProcess[] = [];

beforeAll(async () => {
  pg = await startPostgres({});
  ({ stack } = await startTestStack({
    DATABASE_URL: pg.url,
    EXPOSURE_TOPIC: 'exposures-faults',
    EXPOSURE_SUBSCRIPTION: 'exposures-faults-consumer',
    // Small enough that a 12 s outage spills to Redis; short leases so a killed consumer's
    // messages come back soon.
    EXPOSURE_BUFFER_MAX: '200',
    EXPOSURE_SPILL_CLAIM_MS: '1000',
    CONSUMER_ACK_DEADLINE_SECONDS: '10',
    CONSUMER_BATCH_MAX_MS: '50',
  }));
  c = await StackClient.create(stack);
  store = new ExposureStore(pg.url);
}, 120_000);

afterAll(async () => {
  stack?.pubsub?.resume();
  await pg?.startServer().catch(() => undefined);
  for (const app of replacements) await app.stop();
  await stack?.stop();
  await pg?.stop();
}, 60_000);

/** One test's users, their clients, and what was sent to each. */
class Run {
  /** `<name>-<random>-`: no other run's user ids start with it. */
  readonly prefix: string;
  readonly users: string[];
  clients: TestClient[] = [];
  /** Ids of the messages sent, per user, in order. */
  readonly sentTo = new Map<string, string[]>();
  sent = 0;

  constructor(name: string) {
    this.prefix = `${name}-${randomUUID().slice(0, 6)}-`;
    this.users = Array.from({ length: USERS }, (_, i) => `${this.prefix}${i}`);
  }

  async connect(): Promise<void> {
    this.clients = await Promise.all(this.users.map((u) => c.connect(u)));
  }

  close(): Promise<unknown> {
    return Promise.all(this.clients.map((client) => client.close()));
  }

  /** Sends one message to a user in turn every SEND_EVERY_MS until `until` resolves. */
  async traffic(until: Promise<unknown>): Promise<void> {
    let done = false;
    void until.finally(() => (done = true));
    while (!done) {
      const started = Date.now();
      const user = this.users[this.sent % USERS];
      const id = await c.send([user], { n: this.sent });
      this.sentTo.set(user, [...(this.sentTo.get(user) ?? []), id]);
      this.sent++;
      // Pacing, not a condition: steady traffic at one send per SEND_EVERY_MS.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, SEND_EVERY_MS - (Date.now() - started))));
    }
  }

  /** Until `more` further messages have been sent (traffic is running in `traffic()`). */
  sendsMore(more: number, what: string): Promise<unknown> {
    const target = this.sent + more;
    return waitFor(() => this.sent >= target, { timeoutMs: 30_000, what: `${more} sends ${what}` });
  }

  /** Every (message, session) pair pushed to this run's clients so far. */
  pushed(): string[] {
    return this.clients.flatMap((client) => {
      const sessionId = (client.frames[0] as { sessionId: string }).sessionId;
      return client.messages().map((m) => pairKey(m.id, sessionId));
    });
  }

  /**
   * Waits until each client has received, in order, every message sent to its user (these faults
   * are behind the gateways: the clients keep their one session), then until the store holds every
   * pushed pair of this run, and checks each is there exactly once.
   */
  async expectExactlyOnce(): Promise<void> {
    await waitFor(() => this.clients.reduce((n, client) => n + client.messages().length, 0) >= this.sent, {
      what: `${this.sent} messages pushed`,
    });
    for (const [i, client] of this.clients.entries()) {
      expect(client.messages().map((m) => m.id)).toEqual(this.sentTo.get(this.users[i]) ?? []);
    }
    const expected = this.pushed();
    const counts = await store.waitForPairs(expected, this.prefix, 90_000);
    expect([...counts.keys()].sort()).toEqual([...expected].sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  }

  /** Until the store holds at least `n` more rows of this run than `before`. */
  async storesMore(before: number, n: number, what: string): Promise<void> {
    await waitFor(async () => (await store.rows(this.prefix).catch(() => before)) >= before + n, {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: `${n} more rows of this run stored ${what}`,
    });
  }
}

const consumerDead = () => {
  const { child } = stack.apps['exposure-consumer'];
  return child.exitCode !== null || child.signalCode !== null;
};

/** Starts a consumer in place of a killed one, as an orchestrator (Kubernetes, Compose) restarts a killed container. */
async function replaceConsumer(): Promise<void> {
  const replacement = await startApp({ name: 'exposure-consumer', port: await freePort(), env: stack.env, onLine: () => undefined });
  replacements.push(replacement);
  stack.apps['exposure-consumer'] = replacement;
}

it('loses no exposure while the Pub/Sub emulator is frozen for 12 s', async () => {
  const run = new Run('pubsub');
  await run.connect();
  const spilledBefore = await c.counter(stack.apps.gateway, 'herald_exposures_published_total{outcome="spilled"}');
  let spilled = 0;
  try {
    const outage = (async () => {
      await run.storesMore(0, 1, 'before the outage');
      await run.sendsMore(SENDS_AROUND_FAULT, 'before the outage');
      stack.pubsub!.pause();
      try {
        await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS)); // the outage itself, not a condition
        spilled = (await c.counter(stack.apps.gateway, 'herald_exposures_published_total{outcome="spilled"}')) - spilledBefore;
      } finally {
        stack.pubsub!.resume();
      }
      await run.sendsMore(SENDS_AROUND_FAULT, 'after the outage');
    })();
    await run.traffic(outage);
    await outage;
    await run.expectExactlyOnce();
    // The outage outlasted the memory bound: the spill was used, and is empty again.
    expect(spilled).toBeGreaterThan(0);
    await waitFor(async () => (await c.counter(stack.apps.gateway, 'herald_exposures_spilled')) === 0, {
      what: 'the spill to be empty',
    });
  } finally {
    stack.pubsub!.resume();
    await run.close();
  }
}, 180_000);

it('loses and duplicates nothing when the consumer is SIGKILLed while it writes', async () => {
  const run = new Run('kill');
  await run.connect();
  try {
    const killed = (async () => {
      // Kill it once it is busy writing this test's events.
      await run.storesMore(0, 50, 'before the kill');
      const consumer = stack.apps['exposure-consumer'];
      consumer.child.kill('SIGKILL');
      await waitFor(consumerDead, { what: 'the consumer to die' });
      const atRestart = await store.rows(run.prefix);
      await replaceConsumer();
      // The replacement writes: the store grows again.
      await run.storesMore(atRestart, 1, 'by the replacement');
      await run.sendsMore(SENDS_AROUND_FAULT, 'after the restart');
    })();
    await run.traffic(killed);
    await killed;
    await run.expectExactlyOnce();
  } finally {
    if (consumerDead()) await replaceConsumer();
    await run.close();
  }
}, 180_000);

it('loses nothing when Postgres is stopped for 12 s and started again', async () => {
  const run = new Run('pg');
  await run.connect();
  try {
    const outage = (async () => {
      await run.storesMore(0, 1, 'before the outage');
      await run.sendsMore(SENDS_AROUND_FAULT, 'before the outage');
      await pg.stopServer();
      try {
        await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS)); // the outage itself, not a condition
      } finally {
        await pg.startServer();
      }
      await run.sendsMore(SENDS_AROUND_FAULT, 'after the outage');
    })();
    await run.traffic(outage);
    await outage;
    await run.expectExactlyOnce();
    // The consumer came back by itself: ready again without a restart.
    await waitFor(async () => (await fetch(`${stack.apps['exposure-consumer'].url}/readyz`)).status === 200, {
      what: 'the consumer to be ready again',
    });
  } finally {
    await pg.startServer();
    await run.close();
  }
}, 180_000);
