/**
 * Runs the re-check of held engagements (db/engagement-holds.ts) every CONSUMER_ENGAGEMENT_RECHECK_MS,
 * one run at a time: stored ones are counted, refused ones counted and logged (a forged or unknown
 * id never reaches `engagements`). A failed run is logged and the next one tries again; the holds
 * stay in Postgres meanwhile, so nothing is lost across restarts either.
 */
import type { Pool } from 'pg';
import type { Logger } from '@herald/logger';
import { recheckHolds } from '../db/engagement-holds';
import type { ConsumerMetrics } from '../metrics';

export interface EngagementRechecksOptions {
  pool: Pool;
  logger: Logger;
  metrics: ConsumerMetrics;
  /** CONSUMER_ENGAGEMENT_RECHECK_MS: the period, and a hold's pause between checks. */
  recheckMs: number;
  /** CONSUMER_ENGAGEMENT_RECHECKS: checks after which a hold without exposure is refused. */
  maxChecks: number;
}

export interface EngagementRechecks {
  /** One run now (or the one in progress). */
  runOnce(): Promise<void>;
  /** Stops the timer and waits for a run in progress. Idempotent. */
  close(): Promise<void>;
}

/** Refusals logged one by one up to this many per run; past it, one line with the count. */
const LOGGED_PER_RUN = 20;

export function startEngagementRechecks(opts: EngagementRechecksOptions): EngagementRechecks {
  const { pool, metrics, recheckMs, maxChecks } = opts;
  const log = opts.logger.child({ module: 'engagement-rechecks' });
  let running: Promise<void> | undefined;

  async function check(): Promise<void> {
    try {
      const { stored, refused } = await recheckHolds(pool, { recheckMs, maxChecks });
      if (stored > 0) metrics.engagementHolds.inc({ outcome: 'stored' }, stored);
      if (refused.length === 0) return;
      metrics.engagementHolds.inc({ outcome: 'refused' }, refused.length);
      for (const r of refused.slice(0, LOGGED_PER_RUN)) {
        log.warn({ ...r, checks: maxChecks }, 'engagement refused: the user was never delivered this message (no exposure after every re-check)');
      }
      if (refused.length > LOGGED_PER_RUN) log.warn({ refused: refused.length }, 'engagements refused in this run (the first ones are logged above)');
    } catch (err) {
      log.error({ err }, 're-checking held engagements failed; the next run tries again');
    }
  }
  const runOnce = () => (running ??= check().finally(() => (running = undefined)));

  const timer = setInterval(() => void runOnce(), recheckMs);
  timer.unref();
  let closing: Promise<void> | undefined;
  return {
    runOnce,
    close: () =>
      (closing ??= (async () => {
        clearInterval(timer);
        await running;
      })()),
  };
}
