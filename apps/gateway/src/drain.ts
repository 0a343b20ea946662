/**
 * The offline drain: push, in order, every message in the user's inbox, then the live messages
 * that arrived meanwhile, at the pace the socket takes them.
 *
 * The inbox was read whole, with the categories, in one atomic snapshot (it is bounded by the
 * inbox cap). Reading it page by page would skip ids whenever a concurrent ack removed entries
 * before the page boundary. The snapshot is processed in batches: bodies from the cache or one
 * Redis round trip per batch, expired ids removed from the inbox. Frames are pushed while the
 * bytes in flight (pushed, not yet handed to the OS) stay under `maxBytesInFlight`, well below
 * SEND_BUFFER_MAX_BYTES: over a slow network the drain waits for the socket instead of filling
 * its buffer, so large messages reach a slow reader instead of tripping the slow-consumer
 * cut-off (4009) on every reconnect.
 */
import { removeFromInbox, type EncodedMessage, type HeraldRedis } from '@herald/redis';
import type { BodyStore } from './body-store';
import type { GatewayMetrics } from './metrics';
import type { Session } from './session';

export interface DrainDeps {
  redis: HeraldRedis;
  bodies: BodyStore;
  metrics: GatewayMetrics;
  batchSize: number;
  /** Bytes pushed and not yet written to the OS, at most (one larger message goes alone). */
  maxBytesInFlight: number;
}

/** The drain's bytes in flight for a send buffer bound: a quarter, leaving room for one more message and pings. */
export function drainBytesInFlight(sendBufferMaxBytes: number): number {
  return Math.max(1, Math.floor(sendBufferMaxBytes / 4));
}

/**
 * Push the messages of `ids` (the inbox snapshot, oldest first), then the live messages that
 * waited behind them; the session is OPEN when this returns, unless it was closed.
 */
export async function drainInbox(deps: DrainDeps, session: Session, ids: readonly string[]): Promise<void> {
  const window = new InFlight(deps.maxBytesInFlight, () => deps.metrics.drainWaits.inc());
  for (let start = 0; start < ids.length; start += deps.batchSize) {
    if (session.closed) break;
    const batch = ids.slice(start, start + deps.batchSize);
    const bodies = await deps.bodies.getMany(batch, Date.now());
    const expired: string[] = [];
    for (let i = 0; i < batch.length; i++) {
      const body = bodies[i];
      if (!body) expired.push(batch[i]);
      else if (!session.acks.acknowledgedBeforePush(body.id)) await pushPaced(window, session, body, 'offline');
      if (session.closed) break;
    }
    if (expired.length > 0) {
      deps.metrics.expiredDropped.inc(expired.length);
      await removeFromInbox(deps.redis, session.userId, expired);
    }
  }
  const drained = new Set(ids);
  for (let live = session.nextPending(drained); live; live = session.nextPending(drained)) {
    await pushPaced(window, session, live, 'live');
  }
}

/** Push once the window has room for the frame; resolves when it is pushed (not yet written). */
async function pushPaced(window: InFlight, session: Session, message: EncodedMessage, via: 'offline' | 'live'): Promise<void> {
  const size = message.frame.length;
  // No await when there is room: the pushes of a batch stay in one turn (one exposure log write).
  const wait = window.room(size);
  if (wait) await wait;
  if (session.closed) return;
  window.add(size);
  let done = false;
  const written = () => {
    if (done) return;
    done = true;
    window.remove(size);
  };
  session.push(message, via, Date.now(), written);
}

/** Bytes pushed whose `written` callback has not come yet, and the one push waiting for room. */
class InFlight {
  private bytes = 0;
  private waiting?: { size: number; resolve: () => void };

  constructor(
    private readonly max: number,
    private readonly onWait: () => void,
  ) {}

  /** Resolves at once when `size` more bytes fit (or nothing is in flight), else once they do. */
  room(size: number): Promise<void> | undefined {
    if (this.fits(size)) return undefined;
    this.onWait();
    return new Promise((resolve) => (this.waiting = { size, resolve }));
  }

  add(size: number): void {
    this.bytes += size;
  }

  remove(size: number): void {
    this.bytes -= size;
    const waiting = this.waiting;
    if (waiting && this.fits(waiting.size)) {
      this.waiting = undefined;
      waiting.resolve();
    }
  }

  private fits(size: number): boolean {
    return this.bytes === 0 || this.bytes + size <= this.max;
  }
}
