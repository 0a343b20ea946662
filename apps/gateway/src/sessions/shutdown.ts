/**
 * Closing sessions with 1012 (restart: reconnect, elsewhere if need be), for two reasons:
 * - shutdown: every session, once the gateway has stopped accepting;
 * - resync: the Redis subscriber reconnected, so notifications published meanwhile are gone
 *   (pub/sub keeps none). The messages are in the inboxes: each client reconnects and drains
 *   them. The gateway still accepts meanwhile, so a resync closes the sessions open at that
 *   moment and only those: a client that is already back must not be cut off at the deadline.
 */
import { CloseCode } from '@herald/types';
import type { Logger } from '@herald/logger';
import type { Hub } from './hub';
import type { GatewayMetrics } from '../metrics';
import type { Session } from './session';

/** Shares of SHUTDOWN_TIMEOUT_MS: closing sessions, then flushing exposures; the rest for the connections. */
export const SESSIONS_SHARE = 0.4;
export const EXPOSURES_SHARE = 0.4;
/** Sessions are closed in steps this far apart, at WS_CLOSE_RATE. */
const CLOSE_STEP_MS = 50;
/** How often the sockets still open are counted while waiting for them. */
const WAIT_STEP_MS = 20;

/**
 * Close `sessions` with 1012, `ratePerSecond` at a time so the gateways the clients go to are
 * not hit by all of them at once; faster when that rate would not finish in three quarters of
 * `budgetMs`. Those of `sessions` whose socket has not answered the close by `budgetMs` are cut
 * off; sessions opened meanwhile are not touched.
 */
export async function closeSessions(sessions: readonly Session[], ratePerSecond: number, budgetMs: number): Promise<void> {
  const deadline = Date.now() + budgetMs;
  const rate = Math.max(ratePerSecond, sessions.length / ((budgetMs * 0.75) / 1000));
  const perStep = Math.max(1, Math.ceil((rate * CLOSE_STEP_MS) / 1000));
  for (let i = 0; i < sessions.length; i += perStep) {
    if (i > 0) await delay(CLOSE_STEP_MS);
    for (const session of sessions.slice(i, i + perStep)) session.close(CloseCode.SERVER_RESTART);
  }
  let open = sessions.filter((s) => !s.gone);
  while (open.length > 0 && Date.now() < deadline) {
    await delay(WAIT_STEP_MS);
    open = open.filter((s) => !s.gone);
  }
  for (const session of open) session.terminate();
}

export interface ResyncDeps {
  hub: Hub;
  metrics: GatewayMetrics;
  log: Logger;
  closeRate: number;
  budgetMs: number;
}

/** The subscriber reconnected: close the sessions open now with 1012 so their clients resync. */
export function resync({ hub, metrics, log, closeRate, budgetMs }: ResyncDeps, why: string): void {
  if (hub.size === 0) return;
  const sessions = [...hub.all()];
  log.warn({ sessions: sessions.length, why }, 'Redis subscriber reconnected; closing sessions with 1012 so clients resync');
  metrics.resyncs.inc();
  void closeSessions(sessions, closeRate, budgetMs);
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
