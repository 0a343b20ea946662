/** A user's offline list: the ids of messages not yet acknowledged, oldest first. */
import { keys } from './keys';
import type { HeraldRedis } from './client';
import { messageNote } from './notification';

/**
 * Append the message to the user's inbox, trim to the cap and notify the user's gateways, in one
 * atomic step. Returns how many old ids the cap dropped.
 */
export function deliverToUser(redis: HeraldRedis, userId: string, messageId: string, encoded: string, cap: number) {
  return redis.deliver(keys.inbox(userId), messageId, cap, keys.userChannel(userId), messageNote(encoded));
}

/** All ids in the inbox, oldest first (bounded by the inbox cap). */
export function readInbox(redis: HeraldRedis, userId: string): Promise<string[]> {
  return redis.lrange(keys.inbox(userId), 0, -1);
}

/** Remove ids (acknowledged or expired) from the inbox; returns how many entries went. */
export function removeFromInbox(redis: HeraldRedis, userId: string, ids: string[]): Promise<number> {
  if (ids.length === 0) return Promise.resolve(0);
  return redis.removeIds(keys.inbox(userId), ...ids);
}
