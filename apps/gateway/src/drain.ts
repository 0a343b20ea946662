/**
 * The offline drain: push, in order, every message in the user's inbox.
 *
 * The inbox was read whole, with the categories, in one atomic snapshot (it is bounded by the
 * inbox cap). Reading it page by page would skip ids whenever a concurrent ack removed entries
 * before the page boundary. The snapshot is processed in batches: bodies from the cache or one Redis round trip per batch, expired
 * ids removed from the inbox, frames pushed, and the next batch waits until the socket has written
 * the last frame of this one, so a drain never piles more than a batch onto a slow socket.
 */
import { removeFromInbox, type HeraldRedis } from '@herald/redis';
import type { BodyStore } from './body-store';
import type { GatewayMetrics } from './metrics';
import type { Session } from './session';

export interface DrainDeps {
  redis: HeraldRedis;
  bodies: BodyStore;
  metrics: GatewayMetrics;
  batchSize: number;
}

/** Push the messages of `ids` (the inbox snapshot, oldest first). */
export async function drainInbox(deps: DrainDeps, session: Session, ids: readonly string[]): Promise<void> {
  for (let start = 0; start < ids.length; start += deps.batchSize) {
    if (session.closed) break;
    const batch = ids.slice(start, start + deps.batchSize);
    const now = Date.now();
    const bodies = await deps.bodies.getMany(batch, now);
    const expired: string[] = [];
    let written: Promise<void> | undefined;
    for (let i = 0; i < batch.length; i++) {
      const body = bodies[i];
      if (!body) expired.push(batch[i]);
      else if (i === batch.length - 1) written = new Promise((resolve) => session.push(body, 'offline', now, () => resolve()));
      else session.push(body, 'offline', now);
    }
    if (expired.length > 0) {
      deps.metrics.expiredDropped.inc(expired.length);
      await removeFromInbox(deps.redis, session.userId, expired);
    }
    if (written && !session.closed) await written;
  }
}

