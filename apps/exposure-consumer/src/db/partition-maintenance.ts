/**
 * Keeps the daily partitions of `exposures` ahead of the traffic and within the retention, and the
 * other events' tables within it too (event-retention.ts): once at start, then every interval, one
 * run at a time. A failed run is logged and the next one tries
 * again; meanwhile rows of a day without a partition go to the default partition, so the ingest
 * never depends on this.
 */
import type { Pool } from 'pg';
import type { Logger } from '@herald/logger';
import { dropExpiredEvents } from './event-retention';
import { dropExpiredPartitions, ensurePartitions } from './partitions';

export interface PartitionMaintenanceOptions {
  pool: Pool;
  logger: Logger;
  /** EXPOSURE_RETENTION_DAYS: whole UTC days kept; 0 keeps everything. */
  retentionDays: number;
  /** Time between runs. @default 3600000 (hourly) */
  intervalMs?: number;
}

export interface PartitionMaintenance {
  /** Stops the timer and waits for a run in progress. Idempotent. */
  close(): Promise<void>;
}

export async function startPartitionMaintenance(opts: PartitionMaintenanceOptions): Promise<PartitionMaintenance> {
  const { pool, logger, retentionDays } = opts;
  const log = logger.child({ module: 'partition-maintenance' });
  let running: Promise<void> | undefined;

  async function runOnce(): Promise<void> {
    const now = new Date();
    // Independent steps: a day that cannot be created must not keep expired days forever, or the reverse.
    await ensurePartitions(pool, logger, { now }).catch((err: unknown) =>
      log.error({ err }, 'creating exposure partitions failed; the next run tries again'),
    );
    await dropExpiredPartitions(pool, logger, { now, retentionDays }).catch((err: unknown) =>
      log.error({ err }, 'dropping expired exposure partitions failed; the next run tries again'),
    );
    await dropExpiredEvents(pool, logger, { now, retentionDays }).catch((err: unknown) =>
      log.error({ err }, 'deleting expired messages, engagements and losses failed; the next run tries again'),
    );
  }
  const run = () => (running ??= runOnce().finally(() => (running = undefined)));

  await run();
  const timer = setInterval(() => void run(), opts.intervalMs ?? 3_600_000);
  // The timer alone must not keep the process alive.
  timer.unref();

  let closing: Promise<void> | undefined;
  return {
    close: () =>
      (closing ??= (async () => {
        clearInterval(timer);
        await running;
      })()),
  };
}
