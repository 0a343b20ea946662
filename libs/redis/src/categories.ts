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
  const pipeline = redis.pipeline();
  for (const category of previous) {
    if (!next.includes(category)) pipeline.srem(keys.categoryMembers(category), userId);
  }
  for (const category of next) pipeline.sadd(keys.categoryMembers(category), userId);
  const results = (await pipeline.exec()) ?? [];
  for (const [err] of results) if (err) throw err;
}
