/**
 * The ordered streams a connecting session drains, read a page at a time: its inbox snapshot
 * (ids oldest first; bodies from the cache or one Redis round trip per page; expired ids removed
 * from the inbox) and each of its categories' logs after the user's position
 * (libs/redis category-log.ts). The drain (drain.ts) merges their pages by send time.
 */
import { readCategoryLog, removeFromInbox, type HeraldRedis, type LogEntry } from '@herald/redis';
import type { BodyStore } from './body-store';
import type { GatewayMetrics } from '../metrics';
import type { Outgoing } from './pending-queue';
import type { UserEvents } from '../exposure/user-events';

/** One item of a page: something to push, or a category entry to pass (expired, body gone). */
export type DrainItem = Outgoing | { pass: true; category: string; entry: string };

export interface SourceDeps {
  redis: HeraldRedis;
  bodies: BodyStore;
  metrics: GatewayMetrics;
  batchSize: number;
  /** `expired` events for what a page found expired, `dropped` for what a log's cap trimmed (user-events.ts). */
  events: Pick<UserEvents, 'expired' | 'dropped'>;
}

export interface DrainSource {
  /** The next page, in the stream's order; empty once the stream is done. */
  next(): Promise<DrainItem[]>;
}

/** The inbox snapshot, a page of `batchSize` ids at a time. */
export function inboxSource(deps: SourceDeps, userId: string, ids: readonly string[]): DrainSource {
  let start = 0;
  return {
    async next() {
      const page: DrainItem[] = [];
      while (page.length === 0 && start < ids.length) {
        const batch = ids.slice(start, (start += deps.batchSize));
        const bodies = await deps.bodies.getMany(batch, Date.now());
        const expired: string[] = [];
        for (let i = 0; i < batch.length; i++) {
          const message = bodies[i];
          if (message) page.push({ message });
          else expired.push(batch[i]);
        }
        if (expired.length > 0) {
          deps.metrics.expiredDropped.inc(expired.length);
          await removeFromInbox(deps.redis, userId, expired);
          // Once they are out of the inbox: a failed removal finds them again at the next drain
          // (the same event ids then).
          deps.events.expired(userId, expired, null);
        }
      }
      return page;
    },
  };
}

/**
 * A category's log after `position`, a page at a time; `first` is the page the connect read
 * before the welcome (its ids may be acknowledged early). An entry whose message has expired (or
 * whose body is gone) is passed, in its place, so the position can move past it; one past its
 * expiry is an `expired` event for the user (each connect that passes it again repeats the same
 * event id). A body gone before the entry's expiry is a recall: no event.
 */
export function categorySource(deps: SourceDeps, userId: string, category: string, first: LogEntry[]): DrainSource {
  let page = first;
  let done = false;
  return {
    async next() {
      if (done) return [];
      if (page.length === 0) return ((done = true), []);
      const now = Date.now();
      const live = page.filter((e) => e.expiresAt > now);
      if (live.length < page.length) {
        deps.events.expired(userId, page.filter((e) => e.expiresAt <= now).map((e) => e.id), category);
      }
      const bodies = live.length > 0 ? await deps.bodies.getMany(live.map((e) => e.id), now) : [];
      let next = 0;
      const items: DrainItem[] = page.map(({ entry, expiresAt }) => {
        // `bodies` follows `live`: the page's entries that had not expired, in order.
        const message = expiresAt > now ? bodies[next++] : null;
        return message ? { message, category, entry } : { pass: true, category, entry };
      });
      const after = page[page.length - 1].entry;
      page = page.length < deps.batchSize ? [] : await readCategoryLog(deps.redis, category, after, deps.batchSize);
      return items;
    },
  };
}
