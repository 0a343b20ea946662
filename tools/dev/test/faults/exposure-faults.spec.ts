/**
 * The exposure pipeline loses nothing, against real processes under steady traffic: the Pub/Sub
 * emulator frozen for 30 s, the consumer SIGKILLed while it writes, Postgres stopped for 30 s and
 * started again. After each, every message sent has been pushed to its user, and the store holds
 * exactly one row per (message, session) pair actually pushed to a client.
 */
import { freePort, startApp, startPostgres, startTestStack, TestClient, waitFor, type AppProcess, type Stack, type TestPostgres } from '@herald/testing';
import { ExposureStore, pairKey } from '../support/exposure-store';
import { StackClient } from '../support/stack-client';

const USERS = 20;
const SEND_EVERY_MS = 20;
const OUTAGE_MS = 30_000;

let pg: TestPostgres;
let stack: Stack;
let c: StackClient;
let clients: TestClient[] = [];
let store: ExposureStore;
/** Ids of the messages sent, per user, in order. */
const sentTo = new Map<string, string[]>();
/** Apps started by a test to replace killed ones (the stack stops only its own). */
const replacements: AppProcess[] = [];

beforeAll(async () => {
  pg = await startPostgres({});
  ({ stack } = await startTestStack({
    DATABASE_URL: pg.url,
    EXPOSURE_TOPIC: 'exposures-faults',
    EXPOSURE_SUBSCRIPTION: 'exposures-faults-consumer',
    // Small enough that a 30 s outage spills to Redis; short leases so a killed consumer's
    // messages come back soon.
    EXPOSURE_BUFFER_MAX: '200',
    EXPOSURE_SPILL_CLAIM_MS: '1000',
    CONSUMER_ACK_DEADLINE_SECONDS: '10',
    CONSUMER_BATCH_MAX_MS: '50',
  }));
  c = await StackClient.create(stack);
  store = new ExposureStore(pg.url);
  clients = await Promise.all(Array.from({ length: USERS }, (_, i) => c.connect(`fault-user-${i}`)));
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  stack?.pubsub?.resume();
  for (const app of replacements) await app.stop();
  await stack?.stop();
  await pg?.stop();
}, 60_000);

/** Sends one message to a user in turn every SEND_EVERY_MS until `until` resolves. */
async function traffic(until: Promise<unknown>): Promise<number> {
  let done = false;
  void until.finally(() => (done = true));
  let sent = 0;
  while (!done) {
    const started = Date.now();
    const user = `fault-user-${sent % USERS}`;
    const id = await c.send([user], { n: sent });
    sentTo.set(user, [...(sentTo.get(user) ?? []), id]);
    sent++;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, SEND_EVERY_MS - (Date.now() - started))));
  }
  return sent;
}

/** Every (message, session) pair pushed to the clients so far. */
function pushed(): string[] {
  return clients.flatMap((client) => {
    const sessionId = (client.frames[0] as { sessionId: string }).sessionId;
    return client.messages().map((m) => pairKey(m.id, sessionId));
  });
}

const storedCounts = () => store.countsByPair();

/**
 * Waits until each client has received, in order, every message sent to its user (these faults
 * are behind the gateways: the clients keep their one session), then until the store holds every
 * pushed pair, and checks each is there exactly once.
 */
async function expectExactlyOnce(sent: number): Promise<void> {
  await waitFor(() => clients.reduce((n, client) => n + client.messages().length, 0) >= sent, {
    what: `${sent} messages pushed`,
  });
  for (const [i, client] of clients.entries()) {
    expect(client.messages().map((m) => m.id)).toEqual(sentTo.get(`fault-user-${i}`) ?? []);
  }
  const expected = pushed();
  const counts = await store.waitForPairs(expected, '', 90_000);
  expect([...counts.keys()].sort()).toEqual([...expected].sort());
  expect([...counts.values()].every((n) => n === 1)).toBe(true);
}

let total = 0;

it('loses no exposure while the Pub/Sub emulator is frozen for 30 s', async () => {
  const outage = (async () => {
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    stack.pubsub!.pause();
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    stack.pubsub!.resume();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
  })();
  total += await traffic(outage);
  const spilled = await c.counter(stack.apps.gateway, 'herald_exposures_published_total{outcome="spilled"}');
  await expectExactlyOnce(total);
  // The outage outlasted the memory bound: the spill was used, and is empty again.
  expect(spilled).toBeGreaterThan(0);
  await waitFor(async () => (await c.counter(stack.apps.gateway, 'herald_exposures_spilled')) === 0, {
    what: 'the spill to be empty',
  });
}, 180_000);

it('loses and duplicates nothing when the consumer is SIGKILLed while it writes', async () => {
  const consumer = stack.apps['exposure-consumer'];
  const killed = (async () => {
    // Kill it once it is busy writing this phase's events.
    const before = (await storedCounts()).size;
    await waitFor(async () => (await storedCounts()).size > before + 50, { timeoutMs: 30_000, what: 'the consumer writing' });
    consumer.child.kill('SIGKILL');
    await waitFor(() => consumer.child.exitCode !== null || consumer.child.signalCode !== null, { what: 'the consumer to die' });
    // Started again by the test, as an orchestrator (Kubernetes, Compose) restarts a killed container.
    const replacement = await startApp({ name: 'exposure-consumer', port: await freePort(), env: stack.env, onLine: () => undefined });
    replacements.push(replacement);
    stack.apps['exposure-consumer'] = replacement;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  })();
  total += await traffic(killed);
  await expectExactlyOnce(total);
}, 180_000);

it('loses nothing when Postgres is stopped for 30 s and started again', async () => {
  const outage = (async () => {
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await pg.stopServer();
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    await pg.startServer();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  })();
  total += await traffic(outage);
  await expectExactlyOnce(total);
  // The consumer came back by itself: ready again without a restart.
  await waitFor(async () => (await fetch(`${stack.apps['exposure-consumer'].url}/readyz`)).status === 200, {
    what: 'the consumer to be ready again',
  });
}, 180_000);
