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
 * redis-server, one per user on a Cluster).
 */
import { advancePositions, compareEntryIds, removeAcked, WriteWindow, type HeraldRedis } from '@herald/redis';
import type { Logger } from '@herald/logger';
import type { GatewayMetrics } from './metrics';

export class AckBatcher {
  private pending = new Map<string, Set<string>>();
  /**
   * Per user: category, entry, category, entry, … (UserPositions: a short list, not a map, per user
   * and window; a user has at most MAX_CATEGORIES_PER_USER (100) categories, so a scan stays short).
   */
  private positions = new Map<string, string[]>();
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

  /** The user's position in `category` may move to `entry`. */
  advance(userId: string, category: string, entry: string): void {
    const user = this.positions.get(userId);
    if (!user) this.positions.set(userId, [category, entry]);
    else {
      let at = 0;
      while (at < user.length && user[at] !== category) at += 2;
      if (at === user.length) user.push(category, entry);
      else if (compareEntryIds(entry, user[at + 1]) > 0) user[at + 1] = entry;
    }
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
    if (this.positions.size === 0) return;
    const positions = this.positions;
    this.positions = new Map();
    advancePositions(this.redis, positions).catch((err: unknown) => {
      this.log.warn({ err, users: positions.size }, 'position update failed; the entries come back next time');
    });
  }
}
