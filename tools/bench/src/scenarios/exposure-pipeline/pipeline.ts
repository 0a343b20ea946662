/**
 * The far end of the exposure pipeline for one measurement: a Postgres of its own (@herald/testing
 * startPostgres: a throwaway embedded cluster, or a fresh database on the server of DATABASE_URL)
 * and an exposure-consumer process pulling a subscription of its own on the rig's emulator and
 * writing to that database. The consumer creates the topic and the subscription before it is
 * ready, so nothing published afterwards is missed.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { startPostgres, type TestPostgres } from '@herald/testing';
import { startApp, type AppProcess } from '../../herald/app-process';
import { findPids } from '../../herald/proc-cpu';
import type { Rig } from '../../herald/rig';

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
  /** Processes whose trees are Postgres (for treeCpuSecondsOf); empty on a shared server. */
  postgresRoots: number[];
  /** Stops the consumer, then Postgres; each step even if the other fails; twice is a no-op. */
  stop(): Promise<void>;
}

export async function startPipeline(rig: Rig, topic: string, settings: ConsumerSettings, signal: AbortSignal): Promise<Pipeline> {
  const postgres = await startPostgres();
  let consumer: AppProcess | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      const results = await Promise.allSettled([consumer?.stop()]);
      await postgres.stop();
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    })());
  try {
    signal.throwIfAborted();
    consumer = await startApp(
      'exposure-consumer',
      {
        METADATA_SERVER_DETECTION: 'none',
        LOG_LEVEL: 'warn',
        // The analyst API is not used here, but the consumer needs a way to verify tokens.
        AUTH_JWT_SECRET: `bench-${randomBytes(24).toString('hex')}`,
        PUBSUB_EMULATOR_HOST: rig.pubsub.emulatorHost,
        PUBSUB_PROJECT_ID: rig.pubsub.projectId,
        EXPOSURE_TOPIC: topic,
        EXPOSURE_SUBSCRIPTION: `${topic}-consumer`,
        DATABASE_URL: postgres.url,
        CONSUMER_BATCH_MAX: String(settings.batchMax),
        CONSUMER_BATCH_MAX_MS: String(settings.batchMs),
        CONSUMER_MAX_OUTSTANDING: String(settings.maxOutstanding),
      },
      signal,
    );
    return { topic, postgres, consumer, postgresRoots: postgres.restartable ? postgresRoots(postgres.url) : [], stop };
  } catch (err) {
    await stop().catch(() => undefined); // the start's error is the one to report
    throw err;
  }
}

/**
 * The embedded cluster's processes: its launcher (`node embedded-postgres.mjs <dir> <port>`) and
 * the postmaster (`postgres -D <dir> -p <port>`), found by the port among their arguments; the
 * backends are the postmaster's children.
 */
function postgresRoots(url: string): number[] {
  const port = new URL(url).port;
  return findPids(port).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres');
    } catch {
      return false;
    }
  });
}
