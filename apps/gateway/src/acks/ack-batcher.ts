/**
 * Acks go to Redis in batches: the acked ids of one write window (ACK_WINDOW_MS, libs/redis write-window.ts),
 * per user, each id once (two devices of a user may ack the same id), then `removeAcked` for all
 * the window's users (libs/redis acked-ids.ts: on one redis-server one script call per
 * REMOVE_CHUNK ids, written into one buffer; on a Cluster one call per user); the calls of one
 * flush leave in one write. The ids are already filtered by the sessions
 * (AckTracker): only ids a session pushed reach this. An ack still waiting when its client
 * reconnects is delivered again (at least once).
 *
 * Category positions (category-cursors.ts) ride the same window: the furthest position asked
 * for per user and category, then `advancePositions` (one script call for many users on one
 * redis-server, one per user on a Cluster). What a session moved waits on the session itself
 * (`PositionMoves`, made once per session), so an ack that moves a position allocates nothing:
 * a window's map and lists, made as acks came, lived until the window's write and were an eighth of
 * what outlived the young generation in a broadcast (docs/BENCHMARKS.md). The write takes the
 * sessions' moves as they are (`PositionMove` in libs/redis), without a map or list per user.
 */
import { advancePositions, compareEntryIds, removeAcked, WriteWindow, type HeraldRedis } from '@herald/redis';
import type { Logger } from '@herald/logger';
import type { GatewayMetrics } from '../metrics';

/** One session's position moves waiting for the next write (the session holds it; see the header). */
export class PositionMoves {
  /** In the batcher's list for the next write. */
  queued = false;
  /** The first category moved in the window, and the furthest entry asked for in it. */
  category = '';
  entry = '';
  /** Further categories moved in the same window: category, entry, … (rare, so made only then). */
  more: string[] | null = null;

  constructor(readonly userId: string) {}
}

/** Whose positions move: a session, which carries its PositionMoves for the batcher. */
export interface PositionOwner {
  readonly userId: string;
  positionMoves?: PositionMoves;
}

export class AckBatcher {
  private pending = new Map<string, Set<string>>();
  /** The sessions whose positions moved in this window. */
  private moved: PositionMoves[] = [];
  private readonly window: WriteWindow;

  constructor(
    private readonly redis: HeraldRedis,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
    windowMs: number,
  ) {
    this.window = new WriteWindow(windowMs, () => this.flush());
  }

  add(userId: string, ids: readonly string[]): void {
    let set = this.pending.get(userId);
    if (!set) this.pending.set(userId, (set = new Set()));
    for (const id of ids) set.add(id);
    this.window.schedule();
  }

  /** The owner's user's position in `category` may move to `entry`. */
  advance(owner: PositionOwner, category: string, entry: string): void {
    const moves = (owner.positionMoves ??= new PositionMoves(owner.userId));
    if (!moves.queued) {
      moves.queued = true;
      moves.category = category;
      moves.entry = entry;
      moves.more = null;
      this.moved.push(moves);
    } else if (moves.category === category) {
      if (compareEntryIds(entry, moves.entry) > 0) moves.entry = entry;
    } else furthest((moves.more ??= []), category, entry);
    this.window.schedule();
  }

  /** Send what waits now and stop the window (shutdown, before the connection closes). */
  close(): void {
    this.window.flushNow();
    this.window.close();
  }

  private flush(): void {
    if (this.pending.size > 0) {
      const acked = this.pending;
      this.pending = new Map();
      removeAcked(this.redis, acked).then(
        (removed) => this.metrics.acked.inc(removed),
        (err: unknown) => this.log.warn({ err, users: acked.size }, 'ack failed; the ids stay and come back next time'),
      );
    }
    if (this.moved.length === 0) return;
    // The sessions' moves go as they are (a user's two sessions come twice: the script keeps the
    // furthest entry); encoded before advancePositions returns, so they may move again at once.
    const moved = this.moved;
    this.moved = [];
    for (const moves of moved) moves.queued = false;
    const sessions = moved.length;
    advancePositions(this.redis, moved).catch((err: unknown) => {
      this.log.warn({ err, sessions }, 'position update failed; the entries come back next time');
    });
  }
}

/**
 * Set `category`'s entry in a list of category, entry, … to `entry` if it is further (or add it).
 * A short scan: a user has at most MAX_CATEGORIES_PER_USER (100) categories.
 */
function furthest(list: string[], category: string, entry: string): void {
  let at = 0;
  while (at < list.length && list[at] !== category) at += 2;
  if (at === list.length) list.push(category, entry);
  else if (compareEntryIds(entry, list[at + 1]) > 0) list[at + 1] = entry;
}
