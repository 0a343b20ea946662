/**
 * This gateway's part of presence (libs/redis presence.ts, docs/PROTOCOL.md "Presence"): a
 * session is written when it opens and removed when it goes; a beat keeps this gateway instance
 * live; once per heartbeat period the TTL of each connected user's key is restarted (one command
 * per user, auto-pipelined in chunks), and a key found gone is written again.
 *
 * Cost: per session, one write at open and one at close; per heartbeat period, one command per
 * user with sessions here plus a few beats. Readers judge liveness from the beat alone, so the
 * refresh only keeps the keys from expiring under live sessions.
 *
 * A Redis failure never touches a connection: it is counted (herald_gateway_presence_errors_total)
 * and logged, a warning for the first of a run of failures, then debug lines until one succeeds.
 */
import type { Logger } from '@herald/logger';
import {
  beatPresence,
  closePresence,
  openPresence,
  presenceInstance,
  refreshPresence,
  retirePresence,
  type HeraldRedis,
  type OpenSession,
} from '@herald/redis';
import type { Hub } from '../sessions/hub';
import type { GatewayMetrics } from '../metrics';
import type { Session } from '../sessions/session';

/** Beats per heartbeat period: a late beat or two still leaves the instance live. */
export const BEATS_PER_HEARTBEAT = 3;
/** A user's key lives this many heartbeat periods after its last refresh. */
export const KEY_TTL_HEARTBEATS = 3;
/** Users per refresh chunk: one auto-pipelined write, awaited before the next. */
const REFRESH_CHUNK = 1000;

type PresenceOp = 'open' | 'close' | 'refresh' | 'beat';

export interface PresenceOptions {
  redis: HeraldRedis;
  hub: Hub;
  gatewayId: string;
  /** HEARTBEAT_INTERVAL_MS. */
  heartbeatIntervalMs: number;
  metrics: Pick<GatewayMetrics, 'presenceErrors'>;
  log: Logger;
}

export class PresenceTracker {
  /** This process's instance id (`<nonce>|<GATEWAY_ID>`), as readers see it in the registry. */
  readonly instance: string;
  /** How long one beat keeps the instance live: one heartbeat period. */
  readonly liveForMs: number;
  readonly keyTtlMs: number;
  private timer?: NodeJS.Timeout;
  private ticks = 0;
  private refreshing = false;
  private failing = false;
  private closing?: Promise<void>;

  constructor(private readonly opts: PresenceOptions) {
    this.instance = presenceInstance(opts.gatewayId);
    this.liveForMs = opts.heartbeatIntervalMs;
    this.keyTtlMs = opts.heartbeatIntervalMs * KEY_TTL_HEARTBEATS;
  }

  /** The first beat (before any session is written), then the timer. Never throws. */
  async start(): Promise<void> {
    if (this.timer || this.closing) return;
    await this.beat();
    this.timer = setInterval(() => this.tick(), Math.max(1, Math.floor(this.opts.heartbeatIntervalMs / BEATS_PER_HEARTBEAT)));
    this.timer.unref();
  }

  /** A session registered in the hub (past the per-user limit). */
  opened(session: Session): void {
    void this.track('open', openPresence(this.opts.redis, this.instance, [entryOf(session)], this.keyTtlMs));
  }

  /** A session's socket is gone. */
  closed(session: Session): void {
    void this.track('close', closePresence(this.opts.redis, session.userId, session.id));
  }

  /** Stop beating and unregister: this gateway's sessions stop counting at once. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.timer);
      await this.track('beat', retirePresence(this.opts.redis, this.instance));
    })();
    return this.closing;
  }

  private tick(): void {
    void this.beat();
    if (++this.ticks % BEATS_PER_HEARTBEAT === 0) void this.refresh();
  }

  private async beat(): Promise<void> {
    await this.track('beat', beatPresence(this.opts.redis, this.instance, this.liveForMs));
  }

  /** Every connected user's key, a chunk at a time; keys found gone are written again. */
  private async refresh(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      const users = [...this.opts.hub.users()];
      for (let at = 0; at < users.length && !this.closing; at += REFRESH_CHUNK) {
        const chunk = users.slice(at, at + REFRESH_CHUNK);
        const gone = await this.track('refresh', refreshPresence(this.opts.redis, chunk, this.keyTtlMs));
        if (!gone || gone.length === 0) continue;
        const sessions = gone.flatMap((userId) => [...this.opts.hub.sessionsOf(userId)].filter((s) => !s.closed).map(entryOf));
        if (sessions.length > 0) await this.track('open', openPresence(this.opts.redis, this.instance, sessions, this.keyTtlMs));
      }
    } finally {
      this.refreshing = false;
    }
  }

  /** The write's result, or undefined after counting and logging its failure. */
  private async track<T>(op: PresenceOp, write: Promise<T>): Promise<T | undefined> {
    try {
      const result = await write;
      if (this.failing) {
        this.failing = false;
        this.opts.log.info('presence writes work again');
      }
      return result;
    } catch (err) {
      this.opts.metrics.presenceErrors.inc({ op });
      if (this.failing) this.opts.log.debug({ err, op }, 'presence write failed (still failing)');
      else this.opts.log.warn({ err, op }, 'presence write failed; connections are not affected');
      this.failing = true;
      return undefined;
    }
  }
}

function entryOf(session: Session): OpenSession {
  return { userId: session.userId, sessionId: session.id, connectedAtMs: session.connectedAt };
}
