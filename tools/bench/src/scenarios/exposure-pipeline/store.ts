/**
 * The far end of the exposure pipeline for one measurement, and reading it back: a Postgres of its
 * own (@herald/testing startPostgres: a throwaway embedded cluster with fsync off, or a fresh
 * database on the server of DATABASE_URL) and an exposure-consumer process pulling a subscription
 * of its own on the rig's emulator into it (it creates the topic and the subscription before it is
 * ready, so nothing published afterwards is missed). The rows are read back with `pg`: those of one
 * source (its gatewayId) made since the measurement began. They carry the timing themselves:
 * `delivered_at` is stamped where the event is made, `received_at` by Postgres when the batch
 * holding the row was written (`now()`: the start of that insert's transaction).
 */
import { startPostgres, type TestPostgres } from '@herald/testing';
import { Client } from 'pg';
import { findPids, withCommand } from '../../procs';
import type { AppProcess, Rig } from '../../rig';

/** The consumer's batching and flow control (CONSUMER_BATCH_MAX, CONSUMER_BATCH_MAX_MS, CONSUMER_MAX_OUTSTANDING). */
export interface ConsumerSettings {
  batchMax: number;
  batchMs: number;
  maxOutstanding: number;
}

export interface Pipeline {
  topic: string;
  postgres: TestPostgres;
  consumer: AppProcess;
  /** The embedded cluster's processes (launcher and postmaster, found by the port); empty on a shared server. */
  postgresRoots: number[];
  stop(): Promise<void>;
}

export async function startPipeline(rig: Rig, topic: string, settings: ConsumerSettings): Promise<Pipeline> {
  const postgres = await startPostgres();
  try {
    const { emulator } = await rig.pubsub();
    const consumer = await rig.startApp('exposure-consumer', {
      PUBSUB_EMULATOR_HOST: emulator.emulatorHost,
      PUBSUB_PROJECT_ID: emulator.projectId,
      EXPOSURE_TOPIC: topic,
      EXPOSURE_SUBSCRIPTION: `${topic}-consumer`,
      DATABASE_URL: postgres.url,
      CONSUMER_BATCH_MAX: String(settings.batchMax),
      CONSUMER_BATCH_MAX_MS: String(settings.batchMs),
      CONSUMER_MAX_OUTSTANDING: String(settings.maxOutstanding),
    });
    const postgresRoots = postgres.restartable ? withCommand(findPids(new URL(postgres.url).port), 'postgres') : [];
    return { topic, postgres, consumer, postgresRoots, stop: async () => (await consumer.stop(), await postgres.stop()) };
  } catch (err) {
    await postgres.stop();
    throw err;
  }
}

export interface StoreTally {
  /** Rows, and distinct event ids among them (rows − distinct = the same event stored twice). */
  rows: number;
  distinct: number;
  /** Epoch ms: first and last delivered_at, first and last received_at; null without rows. */
  firstPublishedMs: number | null;
  lastPublishedMs: number | null;
  firstStoredMs: number | null;
  lastStoredMs: number | null;
  /** received_at − delivered_at per row: made → written. */
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** Rows written per whole second (by received_at), first to last second. */
  storedPerSecond: number[];
  /** Most events made and not yet written at any 100 ms step. */
  peakBacklog: number;
}

/** Backlog steps: events made and written per this many ms. */
const BACKLOG_STEP_MS = 100;

export async function tallyStored(databaseUrl: string, gatewayId: string, since: Date): Promise<StoreTally> {
  const client = new Client({ connectionString: databaseUrl, application_name: 'herald-bench' });
  await client.connect();
  try {
    const where = 'gateway_id = $1 AND delivered_at >= $2';
    const params = [gatewayId, since.toISOString()];
    const summary = await client.query<{
      rows: number;
      distinct: number;
      first_published: string | null;
      last_published: string | null;
      first_stored: string | null;
      last_stored: string | null;
      p50: number | null;
      p99: number | null;
      max: number | null;
    }>(
      `SELECT count(*)::int AS rows, count(DISTINCT event_id)::int AS distinct,
              (extract(epoch FROM min(delivered_at)) * 1000)::float8 AS first_published,
              (extract(epoch FROM max(delivered_at)) * 1000)::float8 AS last_published,
              (extract(epoch FROM min(received_at)) * 1000)::float8 AS first_stored,
              (extract(epoch FROM max(received_at)) * 1000)::float8 AS last_stored,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM received_at - delivered_at))::float8 * 1000 AS p50,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM received_at - delivered_at))::float8 * 1000 AS p99,
              (extract(epoch FROM max(received_at - delivered_at)) * 1000)::float8 AS max
       FROM exposures WHERE ${where}`,
      params,
    );
    const perSecond = await client.query<{ second: string; n: number }>(
      `SELECT floor(extract(epoch FROM received_at))::bigint AS second, count(*)::int AS n
       FROM exposures WHERE ${where} GROUP BY 1 ORDER BY 1`,
      params,
    );
    const steps = await client.query<{ step: string; made: number; written: number }>(
      `SELECT step, sum(made)::int AS made, sum(written)::int AS written FROM (
         SELECT floor(extract(epoch FROM delivered_at) * 1000 / ${BACKLOG_STEP_MS})::bigint AS step, 1 AS made, 0 AS written
         FROM exposures WHERE ${where}
         UNION ALL
         SELECT floor(extract(epoch FROM received_at) * 1000 / ${BACKLOG_STEP_MS})::bigint, 0, 1
         FROM exposures WHERE ${where}
       ) AS events GROUP BY step ORDER BY step`,
      params,
    );
    const s = summary.rows[0];
    const num = (v: string | number | null) => (v === null ? null : Number(v));
    return {
      rows: s.rows,
      distinct: s.distinct,
      firstPublishedMs: num(s.first_published),
      lastPublishedMs: num(s.last_published),
      firstStoredMs: num(s.first_stored),
      lastStoredMs: num(s.last_stored),
      p50Ms: num(s.p50),
      p99Ms: num(s.p99),
      maxMs: num(s.max),
      storedPerSecond: fillSeconds(perSecond.rows.map((r) => [Number(r.second), r.n])),
      peakBacklog: peakBacklog(steps.rows),
    };
  } finally {
    await client.end();
  }
}

/** Counts per second from the first to the last second, seconds without rows as 0. */
function fillSeconds(counts: Array<[number, number]>): number[] {
  if (counts.length === 0) return [];
  const first = counts[0][0];
  const out = new Array<number>(counts[counts.length - 1][0] - first + 1).fill(0);
  for (const [second, n] of counts) out[second - first] = n;
  return out;
}

function peakBacklog(steps: ReadonlyArray<{ made: number; written: number }>): number {
  let backlog = 0;
  let peak = 0;
  for (const { made, written } of steps) {
    backlog += made - written;
    peak = Math.max(peak, backlog);
  }
  return peak;
}
