/** Category membership: the user's set `{u:<id>}:cats` and each category's member set. */
import { keys } from './keys';
import type { HeraldRedis } from './client';
import { categoriesNote } from './notification';

export async function getUserCategories(redis: HeraldRedis, userId: string): Promise<string[]> {
  return (await redis.smembers(keys.userCategories(userId))).sort();
}

/**
 * Replace the user's categories (and tell connected gateways, in the same atomic step), then
 * bring the member sets in line. The member-set writes are idempotent, so a retry after a crash
 * between the two steps converges.
 */
export async function replaceUserCategories(redis: HeraldRedis, userId: string, categories: string[]): Promise<void> {
  const next = [...new Set(categories)].sort();
  const previous = await redis.replaceCategories(
    keys.userCategories(userId),
    keys.userChannel(userId),
    categoriesNote(next),
    ...next,
  );
  // One command per member set, sent together by auto-pipelining: the sets of different
  // categories live on different slots (a Cluster pipeline may span one node only).
  const writes: Promise<number>[] = [];
  for (const category of previous) {
    if (!next.includes(category)) writes.push(redis.srem(keys.categoryMembers(category), userId));
  }
  for (const category of next) writes.push(redis.sadd(keys.categoryMembers(category), userId));
  await Promise.all(writes);
}
