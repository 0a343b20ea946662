/**
 * Fan-out of a category message to the category's members, run in the request for now. It is a
 * function of its own, taking only plain data and the Redis connection, so that a later issue can
 * run it unchanged inside a BullMQ job (DESIGN: "a category message becomes a BullMQ job").
 */
import { keys } from '@herald/redis';
import { deliverToUsers, type Delivery } from './deliver-to-users';

/** The COUNT hint given to SSCAN: roughly how many members each chunk holds. */
export const CATEGORY_SCAN_CHUNK = 500;

/** The cursor with which SSCAN starts, and which it returns when the walk is over. */
const SCAN_DONE = '0';

export interface CategoryFanoutResult {
  /** Distinct members whose offline list got the message. */
  recipients: number;
  /** Old ids the inbox caps dropped. */
  dropped: number;
}

/**
 * Walks `cat:{<name>}:members` with SSCAN (never SMEMBERS: a category can have millions of
 * members) and delivers each chunk before reading the next, so memory and in-flight commands stay
 * bounded by the chunk size. SSCAN may return a member more than once, so members already served
 * are remembered and skipped: a duplicate would put the id twice in one offline list.
 * A member added during the walk may or may not get the message; one removed during it may still.
 */
export async function fanOutToCategory(
  delivery: Delivery,
  category: string,
  chunk: number = CATEGORY_SCAN_CHUNK,
): Promise<CategoryFanoutResult> {
  const key = keys.categoryMembers(category);
  const served = new Set<string>();
  let dropped = 0;
  let cursor = SCAN_DONE;
  do {
    const [next, members] = await delivery.redis.sscan(key, cursor, 'COUNT', chunk);
    cursor = next;
    const fresh: string[] = [];
    for (const userId of members) {
      if (served.has(userId)) continue;
      served.add(userId);
      fresh.push(userId);
    }
    if (fresh.length > 0) dropped += await deliverToUsers(delivery, fresh);
  } while (cursor !== SCAN_DONE);
  return { recipients: served.size, dropped };
}
