/**
 * EXPOSURE_RETENTION_DAYS for the tables besides `exposures` (whose whole days are dropped by
 * partitions.ts): rows older than the first day kept are deleted, in chunks so that no statement
 * holds its locks for long. The same cut as the partitions: with N days, on 2026-03-31 the oldest
 * day kept is 2026-03-01. A message's time is its window_at (sent, else scheduled for, else first
 * heard of); an engagement's or loss's its `at`; a hold's when it arrived.
 */
import type { Pool } from 'pg';
import type { Logger } from '@herald/logger';

const DAY_MS = 86_400_000;
/** Rows deleted per statement. */
const CHUNK = 10_000;

const TABLES = [
  { table: 'messages', column: 'window_at' },
  { table: 'engagements', column: 'at' },
  { table: 'engagement_holds', column: 'received_at' },
  { table: 'losses', column: 'at' },
  { table: 'webpush_outcomes', column: 'at' },
] as const;

export type EventRetentionResult = Record<(typeof TABLES)[number]['table'], number>;

export async function dropExpiredEvents(pool: Pool, logger: Logger, opts: { now: Date; retentionDays: number }): Promise<EventRetentionResult> {
  const deleted: EventRetentionResult = { messages: 0, engagements: 0, engagement_holds: 0, losses: 0, webpush_outcomes: 0 };
  if (opts.retentionDays === 0) return deleted;
  const keepFrom = new Date(Math.floor(opts.now.getTime() / DAY_MS) * DAY_MS - opts.retentionDays * DAY_MS).toISOString();
  for (const { table, column } of TABLES) {
    for (;;) {
      const result = await pool.query(
        `DELETE FROM ${table} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${table} WHERE ${column} < $1 LIMIT ${CHUNK}))`,
        [keepFrom],
      );
      deleted[table] += result.rowCount ?? 0;
      if ((result.rowCount ?? 0) < CHUNK) break;
    }
  }
  if (Object.values(deleted).some((n) => n > 0)) logger.child({ module: 'event-retention' }).info({ deleted, keepFrom }, 'expired events deleted');
  return deleted;
}
