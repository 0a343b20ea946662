/**
 * The offline drain: push every message the user missed, then the live messages that arrived
 * meanwhile, at the pace the socket takes them. What the user missed is in several ordered
 * streams (drain-sources.ts): the inbox, read whole with the categories in one atomic snapshot
 * (bounded by the inbox cap; reading it page by page would skip ids whenever a concurrent ack
 * removed entries before the page boundary), and each category's log after the user's position.
 * They are merged by send time (the messages' `createdAt`; the inbox first on a tie), each
 * stream keeping its own order (docs/PROTOCOL.md, "Order").
 *
 * Frames are pushed while the bytes in flight (pushed, not yet handed to the OS) stay under
 * `maxBytesInFlight`, well below SEND_BUFFER_MAX_BYTES: over a slow network the drain waits for
 * the socket instead of filling its buffer, so large messages reach a slow reader instead of
 * tripping the slow-consumer cut-off (4009) on every reconnect.
 */
import { sentAtOf, type HeraldRedis, type LogEntry, type TrimmedEntry } from '@herald/redis';
import type { BodyStore } from './body-store';
import { categorySource, inboxSource, type DrainItem, type DrainSource } from './drain-sources';
import type { GatewayMetrics } from '../metrics';
import type { Outgoing } from './pending-queue';
import type { Session } from '../sessions/session';
import type { UserEvents } from '../exposure/user-events';

export interface DrainDeps {
  redis: HeraldRedis;
  bodies: BodyStore;
  metrics: GatewayMetrics;
  batchSize: number;
  /** `expired` events for ids and log entries found expired, `dropped` for log entries the cap trimmed (user-events.ts). */
  events: Pick<UserEvents, 'expired' | 'dropped'>;
  /** Bytes pushed and not yet written to the OS, at most (one larger message goes alone). */
  maxBytesInFlight: number;
}

/** The drain's bytes in flight for a send buffer bound: a quarter, leaving room for one more message and pings. */
export function drainBytesInFlight(sendBufferMaxBytes: number): number {
  return Math.max(1, Math.floor(sendBufferMaxBytes / 4));
}

/** A category's log as the connect found it: its first page after the user's position, and what was trimmed after it. */
export interface CategoryStart {
  category: string;
  first: LogEntry[];
  /** Entries the log's cap or lifetime took out after the user's position: lost unread. */
  lost?: TrimmedEntry[];
}

interface Head {
  source: DrainSource;
  items: DrainItem[];
  at: number;
  done: boolean;
}

/**
 * Push the messages of `ids` (the inbox snapshot, oldest first) and of the categories' logs,
 * merged by send time, then the live messages that waited behind them; the session is OPEN when
 * this returns, unless it was closed.
 */
export async function drainInbox(deps: DrainDeps, session: Session, ids: readonly string[], categories: readonly CategoryStart[] = []): Promise<void> {
  const window = new InFlight(deps.maxBytesInFlight, () => deps.metrics.drainWaits.inc());
  for (const { category, lost = [] } of categories) reportLost(deps, session.userId, category, lost);
  const sources = [inboxSource(deps, session.userId, ids), ...categories.map((c) => categorySource(deps, session.userId, c.category, c.first))];
  const heads: Head[] = sources.map((source) => ({ source, items: [], at: 0, done: false }));
  while (!session.closed) {
    if (heads.some(needsRefill)) await Promise.all(heads.filter(needsRefill).map(refill));
    const next = pick(heads, session);
    if (next === null) continue;
    if (next === undefined) break;
    if (session.acks.acknowledgedBeforePush(next.message.id)) {
      if (next.entry !== undefined) session.categories.passed(next.category!, next.entry);
      continue;
    }
    await pushPaced(window, session, next, 'offline');
  }
  const drained = new Set(ids);
  for (let live = session.nextPending(drained); live; live = session.nextPending(drained)) {
    await pushPaced(window, session, live, 'live');
  }
}

/** A stream whose page is used up and that may have more. */
const needsRefill = (head: Head) => !head.done && head.at >= head.items.length;

async function refill(head: Head): Promise<void> {
  head.items = await head.source.next();
  head.at = 0;
  head.done = head.items.length === 0;
}

/**
 * The head item sent first (undefined once every stream is done); null when entries to pass were
 * passed at some heads (a head may need a refill before the next pick).
 */
function pick(heads: Head[], session: Session): Outgoing | null | undefined {
  let best: Head | undefined;
  let bestAt = Infinity;
  let passed = false;
  for (const head of heads) {
    if (head.done || head.at >= head.items.length) continue;
    const item = head.items[head.at];
    if ('pass' in item) {
      session.categories.passed(item.category, item.entry);
      head.at++;
      passed = true;
      continue;
    }
    const at = sentAtOf(item.message) || 0;
    if (at < bestAt || !best) {
      best = head;
      bestAt = at;
    }
  }
  if (passed) return null;
  if (!best) return undefined;
  return best.items[best.at++] as Outgoing;
}

/** Push once the window has room for the frame; resolves when it is pushed (not yet written). */
async function pushPaced(window: InFlight, session: Session, item: Outgoing, via: 'offline' | 'live'): Promise<void> {
  const size = item.message.frame.length;
  // No await when there is room: the pushes of a batch stay in one turn (one exposure log write).
  const wait = window.room(size);
  if (wait) await wait;
  if (session.closed) return;
  window.add(size);
  let done = false;
  session.pushOutgoing(item, via, Date.now(), () => {
    if (done) return;
    done = true;
    window.remove(size);
  });
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

/**
 * A category's entries trimmed after the user's position are its losses: `dropped` (the cap) or
 * `expired` (the lifetime, or past expiry when trimmed). Reported at each drain until the position
 * passes them (the same event ids: the consumer stores each once).
 */
function reportLost(deps: DrainDeps, userId: string, category: string, lost: readonly TrimmedEntry[]): void {
  if (lost.length === 0) return;
  const dropped = lost.filter((e) => e.reason === 'dropped').map((e) => e.id);
  const expired = lost.filter((e) => e.reason === 'expired').map((e) => e.id);
  if (dropped.length > 0) deps.events.dropped(userId, dropped, category);
  if (expired.length > 0) deps.events.expired(userId, expired, category);
}
