/**
 * The hub's sweeps: two timers for every session of the gateway, no per-session timers.
 * - Heartbeat (HEARTBEAT_INTERVAL_MS): a session that did not answer the previous ping is cut
 *   off; the others are pinged again.
 * - Once a second: token expiry (4001), the per-connection frame budget, the door's accept
 *   window, the abuse cooldowns that ran out.
 * Each session keeps its own state; the sweeps only call its methods.
 */
import { CloseCode } from '@herald/types';
import type { AbuseCooldowns } from './cooldowns';
import type { Door } from './door';
import type { Hub } from './hub';

/** The one-second sweep's period. */
export const SWEEP_MS = 1000;

export class HubSweeps {
  private readonly heartbeat: NodeJS.Timeout;
  private readonly sweep: NodeJS.Timeout;

  constructor(
    private readonly hub: Hub,
    private readonly door: Door,
    private readonly cooldowns: AbuseCooldowns,
    heartbeatIntervalMs: number,
  ) {
    this.heartbeat = setInterval(() => this.heartbeatRound(), heartbeatIntervalMs);
    this.sweep = setInterval(() => this.secondRound(Date.now()), SWEEP_MS);
  }

  /** Stop both timers; stopping twice is a no-op. */
  stop(): void {
    clearInterval(this.heartbeat);
    clearInterval(this.sweep);
  }

  private heartbeatRound(): void {
    for (const session of this.hub.all()) if (!session.heartbeat()) session.terminate();
  }

  private secondRound(now: number): void {
    this.door.tick();
    this.cooldowns.prune(now);
    for (const session of this.hub.all()) {
      session.resetFrameBudget();
      if (session.expired(now)) session.close(CloseCode.TOKEN_EXPIRED);
    }
  }
}
