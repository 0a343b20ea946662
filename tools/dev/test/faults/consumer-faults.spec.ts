/**
 * The exposure-consumer as a process, against the real Pub/Sub emulator and a real Postgres,
 * through faults of its own inputs:
 * - its subscription deleted under it (a status the Pub/Sub client does not retry): the pull is
 *   reopened, the subscription recreated when nobody else does it, and /readyz and
 *   herald_consumer_pulling say so while no pull runs;
 * - analysts' queries that hang (blocked here on a lock this test holds on the partition they
 *   scan): they time out with a clear 503 and never take the connections the inserts need.
 * The events are published straight to the topic, as a gateway would. Each test has its own event
 * ids and baselines, and the subscription is back after each, so each passes alone and in any order.
 */
import { randomUUID } from 'node:crypto';
import { PubSub, type Topic } from '@google-cloud/pubsub';
import { Client, Pool } from 'pg';
import {
  ensureSubscription,
  fetchMetric,
  metricValue,
  pubsubClientOptions,
  signToken,
  startApp,
  startPostgres,
  startPubSub,
  TEST_JWT_SECRET,
  waitFor,
  type AppProcess,
  type RunningPubSub,
  type TestPostgres,
} from '@herald/testing';
import type { ExposureEvent } from '@herald/types';

const TOPIC = 'exposures-consumer-faults';
const SUBSCRIPTION = 'exposures-consumer-faults-consumer';
const ACK_DEADLINE_SECONDS = 10;
const READ_POOL_SIZE = 2;
const READ_STATEMENT_TIMEOUT_MS = 1000;

let pg: TestPostgres;
let pubsub: RunningPubSub;
let consumer: AppProcess;
let admin: PubSub;
let topic: Topic;
let db: Pool;

beforeAll(async () => {
  [pg, pubsub] = await Promise.all([startPostgres(), startPubSub()]);
  consumer = await startApp({
    name: 'exposure-consumer',
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      METADATA_SERVER_DETECTION: 'none',
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      DATABASE_URL: pg.url,
      PUBSUB_EMULATOR_HOST: pubsub.emulatorHost,
      PUBSUB_PROJECT_ID: pubsub.projectId,
      EXPOSURE_TOPIC: TOPIC,
      EXPOSURE_SUBSCRIPTION: SUBSCRIPTION,
      CONSUMER_ACK_DEADLINE_SECONDS: String(ACK_DEADLINE_SECONDS),
      CONSUMER_BATCH_MAX_MS: '50',
      CONSUMER_READ_POOL_SIZE: String(READ_POOL_SIZE),
      CONSUMER_READ_STATEMENT_TIMEOUT_MS: String(READ_STATEMENT_TIMEOUT_MS),
    },
  });
  admin = new PubSub(pubsubClientOptions(pubsub.emulatorHost, pubsub.projectId));
  topic = admin.topic(TOPIC);
  // A query of the test that waited on its own lock must fail, not hang the run.
  db = new Pool({ connectionString: pg.url, max: 2, statement_timeout: 5000 });
  db.on('error', () => undefined);
}, 120_000);

afterAll(async () => {
  await consumer?.stop();
  await admin?.close();
  await db?.end();
  await pubsub?.stop();
  await pg?.stop();
}, 60_000);

/** Publishes `n` exposure events delivered now, their event ids starting with `prefix`; returns when they were delivered. */
async function publish(prefix: string, n: number): Promise<Date> {
  const now = new Date();
  const deliveredAt = now.toISOString();
  await Promise.all(
    Array.from({ length: n }, (_, i) => {
      const event: ExposureEvent = {
        eventId: `${prefix}${i}`,
        messageId: `msg-${prefix}${i}`,
        userId: `user-${i % 7}`,
        category: null,
        sessionId: 'session-1',
        gatewayId: 'gateway-1',
        deliveredAt,
        via: 'live',
      };
      return topic.publishMessage({ data: Buffer.from(JSON.stringify(event)) });
    }),
  );
  return now;
}

const DAY_MS = 86_400_000;

/**
 * Events delivered on the day of `at` stored with ids starting with `prefix`. Only that day's
 * partition is read (the bounds prune the others when the query is planned), so this works while
 * a test locks the default partition.
 */
async function stored(prefix: string, at: Date): Promise<number> {
  const day = Math.floor(at.getTime() / DAY_MS) * DAY_MS;
  const { rows } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM exposures WHERE starts_with(event_id, $1) AND delivered_at >= $2 AND delivered_at < $3',
    [prefix, new Date(day).toISOString(), new Date(day + DAY_MS).toISOString()],
  );
  return rows[0].n;
}

async function expectStored(prefix: string, n: number, at: Date, timeoutMs: number): Promise<void> {
  await waitFor(async () => (await stored(prefix, at)) === n, { timeoutMs, intervalMs: 100, what: `${n} events ${prefix}* stored` });
}

interface Sample {
  ready: number;
  pulling: number;
}

/** Polls /readyz and herald_consumer_pulling until stopped, keeping every answer. */
function watchPulling(): { samples: Sample[]; stop(): Promise<void> } {
  const samples: Sample[] = [];
  let stopped = false;
  const running = (async () => {
    while (!stopped) {
      try {
        const ready = (await fetch(`${consumer.url}/readyz`)).status;
        const pulling = metricValue(await (await fetch(`${consumer.url}/metrics`)).text(), 'herald_consumer_pulling');
        samples.push({ ready, pulling });
      } catch {
        // the consumer is always up in these tests; a failed fetch is reported by the assertions
      }
      // A sampling period, not a condition: the samples record the transient states the tests look for.
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  return {
    samples,
    stop: async () => {
      stopped = true;
      await running;
    },
  };
}

describe('the pull from a subscription deleted under the consumer', () => {
  // A test that failed half-way leaves no deleted subscription to the next: it is there, and pulled from.
  afterEach(async () => {
    await ensureSubscription(admin, TOPIC, SUBSCRIPTION, ACK_DEADLINE_SECONDS);
    await waitFor(async () => (await fetchMetric(consumer.url, 'herald_consumer_pulling')) === 1, {
      timeoutMs: 60_000,
      what: 'the consumer pulling again',
    });
  }, 90_000);

  it('is reopened once the subscription is back; /readyz is 503 and herald_consumer_pulling 0 meanwhile', async () => {
    const run = randomUUID().slice(0, 8);
    const before = await publish(`before-${run}-`, 20);
    await expectStored(`before-${run}-`, 20, before, 30_000);
    const reopensBefore = await fetchMetric(consumer.url, 'herald_consumer_pull_reopens_total');

    const watch = watchPulling();
    try {
      await admin.subscription(SUBSCRIPTION).delete();
      await waitFor(() => watch.samples.some((s) => s.ready === 503 && s.pulling === 0), {
        timeoutMs: 15_000,
        what: '/readyz 503 and herald_consumer_pulling 0 while no pull runs',
      });
      // Recreated by someone else (an operator, a deploy): the consumer finds it and pulls from it.
      await ensureSubscription(admin, TOPIC, SUBSCRIPTION, ACK_DEADLINE_SECONDS);
      await waitFor(() => watch.samples.at(-1)?.ready === 200 && watch.samples.at(-1)?.pulling === 1, {
        timeoutMs: 30_000,
        what: 'ready and pulling again',
      });
    } finally {
      await watch.stop();
    }

    const after = await publish(`after-${run}-`, 20);
    await expectStored(`after-${run}-`, 20, after, 30_000);
    expect(await fetchMetric(consumer.url, 'herald_consumer_pull_reopens_total')).toBeGreaterThan(reopensBefore);
  }, 120_000);

  it('recreates the subscription itself when nobody else does', async () => {
    const run = randomUUID().slice(0, 8);
    const watch = watchPulling();
    try {
      await admin.subscription(SUBSCRIPTION).delete();
      await waitFor(() => watch.samples.some((s) => s.ready === 503 && s.pulling === 0), {
        timeoutMs: 15_000,
        what: '/readyz 503 and herald_consumer_pulling 0 while no pull runs',
      });
      await waitFor(() => watch.samples.at(-1)?.ready === 200 && watch.samples.at(-1)?.pulling === 1, {
        timeoutMs: 60_000,
        what: 'ready and pulling again',
      });
    } finally {
      await watch.stop();
    }
    const [exists] = await admin.subscription(SUBSCRIPTION).exists();
    expect(exists).toBe(true);

    const at = await publish(`recreated-${run}-`, 20);
    await expectStored(`recreated-${run}-`, 20, at, 30_000);
  }, 120_000);
});

describe('analyst queries that hang', () => {
  it('time out with QUERY_TIMEOUT or ANALYTICS_BUSY and leave the inserts their connections', async () => {
    const run = randomUUID().slice(0, 8);
    const token = await signToken('analyst-1', { scope: 'exposures:read' });
    const stats = async () => {
      const res = await fetch(`${consumer.url}/v1/exposures/stats?groupBy=message`, { headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
    };
    const errorsBefore = await fetchMetric(consumer.url, 'herald_consumer_batch_seconds_count', 'outcome="error"');

    // Every analyst query without a time window scans the default partition; the events of today
    // go to today's partition, which nothing locks.
    const locker = new Client({ connectionString: pg.url });
    locker.on('error', () => undefined);
    await locker.connect();
    let reads: Array<{ status: number; body: { error?: { code: string } } }>;
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE exposures_default IN ACCESS EXCLUSIVE MODE');
      // More wide queries at once than the writer's pool has connections (10), as a busy dashboard.
      const pending = Array.from({ length: 12 }, () => stats());
      await waitFor(
        async () => {
          const { rows } = await db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = 'exposures_default'::regclass`,
          );
          return rows[0].n > 0;
        },
        { what: 'analyst queries waiting on the lock' },
      );

      const at = await publish(`busy-${run}-`, 100);
      await expectStored(`busy-${run}-`, 100, at, 10_000);
      reads = await Promise.all(pending);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }

    // No batch failed (so none was nacked) while the readers were stuck.
    expect(await fetchMetric(consumer.url, 'herald_consumer_batch_seconds_count', 'outcome="error"')).toBe(errorsBefore);
    for (const read of reads) {
      expect(read.status).toBe(503);
      expect(['QUERY_TIMEOUT', 'ANALYTICS_BUSY']).toContain(read.body.error?.code);
    }
    expect(reads.some((read) => read.body.error?.code === 'QUERY_TIMEOUT')).toBe(true);
    // The readers are free again once the lock is gone.
    expect((await stats()).status).toBe(200);
  }, 120_000);
});
