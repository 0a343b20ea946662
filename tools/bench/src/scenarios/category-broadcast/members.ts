/** A category with many members, made through libs/redis as ingest's PUT categories does. */
import { replaceUserCategories, type HeraldRedis } from '@herald/redis';

/** Users set up at once; their commands go out auto-pipelined. */
const BATCH = 1000;

/** Make each user a member of `category` (and of nothing else). */
export async function joinCategory(redis: HeraldRedis, userIds: readonly string[], category: string, signal: AbortSignal): Promise<void> {
  for (let start = 0; start < userIds.length; start += BATCH) {
    signal.throwIfAborted();
    await Promise.all(userIds.slice(start, start + BATCH).map((userId) => replaceUserCategories(redis, userId, [category])));
  }
}
