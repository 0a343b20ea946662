/**
 * Acks go to Redis in batches: the acked ids of one turn of the event loop, per user, each id
 * once (two devices of a user may ack the same id), then one `removeFromInbox` per user, which
 * sends at most REMOVE_CHUNK ids per script call. The ids are already filtered by the sessions
 * (AckTracker): only ids a session pushed reach this.
 */
import { removeFromInbox, type HeraldRedis } from '@herald/redis';
import type { Logger } from '@herald/logger';
import type { GatewayMetrics } from './metrics';

export class AckBatcher {
  private readonly pending = new Map<string, Set<string>>();
  private scheduled = false;

  constructor(
    private readonly redis: HeraldRedis,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  add(userId: string, ids: readonly string[]): void {
    let set = this.pending.get(userId);
    if (!set) this.pending.set(userId, (set = new Set()));
    for (const id of ids) set.add(id);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    for (const [userId, ids] of this.pending) {
      removeFromInbox(this.redis, userId, [...ids]).then(
        (removed) => this.metrics.acked.inc(removed),
        (err: unknown) => this.log.warn({ err, userId }, 'ack failed; the ids stay and come back next time'),
      );
    }
    this.pending.clear();
  }
}
