/**
 * The hub's sweeps: two timers for every session of the gateway, no per-session timers.
 * - Heartbeat (HEARTBEAT_INTERVAL_MS): a session that answered neither the previous ping nor with
 *   a frame is cut off; the others are pinged again, but for those whose frames went both ways
 *   since the last round (Session.heartbeat). A round goes HEARTBEAT_SLICE sessions a turn, so
 *   pinging 20,000 idle sessions does not hold the event loop for the whole round.
 * - Once a second: token expiry (4001), the per-connection frame budget, the door's accept
 *   window, the abuse cooldowns that ran out.
 * Each session keeps its own state; the sweeps only call its methods.
 */
import { CloseCode } from '@herald/types';
import type { AbuseCooldowns } from '../door/cooldowns';
import type { Door } from '../door/door';
import type { Hub } from './hub';
import type { Session } from './session';

/** The one-second sweep's period. */
export const SWEEP_MS = 1000;
/** Sessions a heartbeat round handles in one turn of the event loop. */
export const HEARTBEAT_SLICE = 500;

export class HubSweeps {
  private readonly heartbeat: NodeJS.Timeout;
  private readonly sweep: NodeJS.Timeout;
  /** The round under way: the sessions it has not reached yet, and its next slice. */
  private round?: IterableIterator<Session>;
  private slice?: NodeJS.Immediate;

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
    clearImmediate(this.slice);
    this.round = undefined;
  }

  private heartbeatRound(): void {
    // A round not over by the next one (a hub far past HEARTBEAT_SLICE × turns) just goes on.
    if (this.round !== undefined) return;
    this.round = this.hub.all();
    this.heartbeatSlice();
  }

  /** Up to HEARTBEAT_SLICE sessions of the round; the rest in a later turn (a Map's iterator sees removals). */
  private readonly heartbeatSlice = (): void => {
    const round = this.round!;
    for (let n = 0; n < HEARTBEAT_SLICE; n++) {
      const next = round.next();
      if (next.done) {
        this.round = undefined;
        return;
      }
      if (!next.value.heartbeat()) next.value.terminate();
    }
    this.slice = setImmediate(this.heartbeatSlice);
  };

  private secondRound(now: number): void {
    this.door.tick();
    this.cooldowns.prune(now);
    for (const session of this.hub.all()) {
      session.resetFrameBudget();
      if (session.expired(now)) session.close(CloseCode.TOKEN_EXPIRED);
    }
  }
}
