/**
 * The far end of the exposure pipeline: a Postgres of its own and an exposure-consumer whose
 * subscription exists once it is ready (nothing published afterwards is missed); then one
 * source's rows (its gatewayId), which carry the timing themselves.
 */
import { startPostgres, type TestPostgres } from '@herald/testing';
import { Client } from 'pg';
import { findPids, withCommand } from '../../procs';
import type { AppProcess, Rig } from '../../rig';

/** CONSUMER_BATCH_MAX, CONSUMER_BATCH_MAX_MS, CONSUMER_MAX_OUTSTANDING. */
type ConsumerSettings = { batchMax: number; batchMs: number; maxOutstanding: number };

export interface Pipeline {
  topic: string;
  postgres: TestPostgres;
  consumer: AppProcess;
  /** The embedded cluster's processes (launcher and postmaster, found by the port); empty on a shared server. */
  postgresRoots: number[];
  stop(): Promise<void>;
}

export async function startPipeline(rig: Rig, topic: string, settings: ConsumerSettings): Promise<Pipeline> {
  const postgres = rig.own(await startPostgres(), (p) => p.stop());
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
}

/** Rows of the kinds besides exposures made since `since`: engagements (stored or still held), losses, messages. */
export async function tallyOthers(databaseUrl: string, since: Date): Promise<number> {
  const client = new Client({ connectionString: databaseUrl, application_name: 'herald-bench' });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      `SELECT ((SELECT count(*) FROM engagements WHERE at >= $1) + (SELECT count(*) FROM engagement_holds WHERE at >= $1)
             + (SELECT count(*) FROM losses WHERE at >= $1) + (SELECT count(*) FROM messages WHERE created_at >= $1))::int AS n`,
      [since.toISOString()],
    );
    return rows[0].n;
  } finally {
    await client.end();
  }
}

/** Backlog steps: events made and written per this many ms. */
const BACKLOG_STEP_MS = 100;

/** Rows and distinct event ids, epoch-ms times, made → written latencies, rows per second, the peak backlog. */
export async function tallyStored(databaseUrl: string, gatewayId: string, since: Date) {
  const client = new Client({ connectionString: databaseUrl, application_name: 'herald-bench' });
  await client.connect();
  try {
    const where = 'gateway_id = $1 AND delivered_at >= $2';
    const params = [gatewayId, since.toISOString()];
    type Times = 'firstPublishedMs' | 'lastPublishedMs' | 'firstStoredMs' | 'lastStoredMs' | 'p50Ms' | 'p99Ms' | 'maxMs';
    const summary = await client.query<Record<Times, number | null> & { rows: number; distinct: number }>(
      `SELECT count(*)::int AS rows, count(DISTINCT event_id)::int AS distinct,
              (extract(epoch FROM min(delivered_at)) * 1000)::float8 AS "firstPublishedMs",
              (extract(epoch FROM max(delivered_at)) * 1000)::float8 AS "lastPublishedMs",
              (extract(epoch FROM min(received_at)) * 1000)::float8 AS "firstStoredMs",
              (extract(epoch FROM max(received_at)) * 1000)::float8 AS "lastStoredMs",
              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM received_at - delivered_at))::float8 * 1000 AS "p50Ms",
              percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM received_at - delivered_at))::float8 * 1000 AS "p99Ms",
              (extract(epoch FROM max(received_at - delivered_at)) * 1000)::float8 AS "maxMs"
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
    const storedPerSecond = fillSeconds(perSecond.rows.map((r) => [Number(r.second), r.n]));
    return { ...summary.rows[0], storedPerSecond, peakBacklog: peakBacklog(steps.rows) };
  } finally {
    await client.end();
  }
}

function fillSeconds(counts: Array<[number, number]>): number[] {
  const out = new Array<number>(counts.length === 0 ? 0 : counts[counts.length - 1][0] - counts[0][0] + 1).fill(0);
  for (const [second, n] of counts) out[second - counts[0][0]] = n;
  return out;
}

function peakBacklog(steps: ReadonlyArray<{ made: number; written: number }>): number {
  let [backlog, peak] = [0, 0];
  for (const { made, written } of steps) peak = Math.max(peak, (backlog += made - written));
  return peak;
}
