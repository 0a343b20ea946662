/**
 * Category membership: the user's set `{u:<id>}:cats` and each category's member set
 * `cat:{<name>}:members`. The member sets live on other slots than the user's keys, so no one
 * script can change both on a Cluster; they are brought in line by a repair that converges after
 * any interleaving of changes, retries and crashes:
 *
 * 1. One script (the user's slot) replaces the categories, adds the old and the new ones to the
 *    user's index (`{u:<id>}:catidx`: every category whose member set may hold the user), bumps
 *    the version, registers the repair with a lease, and returns (version, categories, index).
 * 2. The repair adds the user to each category's member set and removes it from the index's
 *    other categories.
 * 3. A second script ends the round: if the version moved on (another change ran meanwhile, and
 *    this repair's writes may have landed after that change's), the repair runs again from the
 *    newer state; otherwise, once no other repair holds a lease, the index is deleted.
 *
 * A process that dies mid-way leaves the index in place, so the user's next change removes the
 * user from every member set it may still be in. The index is only ever dropped when no repair
 * may still write (one whose process stalls for longer than the lease is the exception).
 */
import { randomUUID } from 'node:crypto';
import { keys } from './keys';
import type { HeraldRedis } from './client';
import { categoriesNote } from './notification';

/** How long a repair may run before the index is no longer kept for it (a stalled process). */
export const CATEGORY_REPAIR_LEASE_MS = 30_000;
/** Rounds one change repairs before giving up to the changes that keep superseding it. */
const MAX_REPAIR_ROUNDS = 50;

export async function getUserCategories(redis: HeraldRedis, userId: string): Promise<string[]> {
  return (await redis.smembers(keys.userCategories(userId))).sort();
}

/**
 * Replace the user's categories (and tell connected gateways, in the same atomic step), then
 * bring the member sets in line (see the header). Throws when other changes of the same user kept
 * superseding this one for MAX_REPAIR_ROUNDS rounds; the categories are set, and the next change
 * of the user repairs the member sets.
 */
export async function replaceUserCategories(redis: HeraldRedis, userId: string, categories: string[]): Promise<void> {
  const next = [...new Set(categories)].sort();
  const cats = keys.userCategories(userId);
  const index = keys.categoryIndex(userId);
  const sync = keys.categorySync(userId);
  const token = randomUUID();
  let [version, current, held] = await redis.replaceCategories(
    cats,
    index,
    sync,
    keys.userChannel(userId),
    keys.categoryPositions(userId),
    categoriesNote(next),
    CATEGORY_REPAIR_LEASE_MS,
    token,
    ...next,
  );
  for (let round = 1; round <= MAX_REPAIR_ROUNDS; round++) {
    await alignMembers(redis, userId, current, held);
    const settled = await redis.settleCategories(cats, index, sync, token, version, CATEGORY_REPAIR_LEASE_MS);
    if (settled[0] === 'done') return;
    [, version, current, held] = settled;
  }
  throw new Error(
    `the categories of ${userId} kept changing during ${MAX_REPAIR_ROUNDS} repair rounds; they are set, ` +
      'and the next change of this user brings the category member sets in line',
  );
}

/**
 * Add the user to its categories' member sets and remove it from the rest of the index's. One
 * command per member set, sent together by auto-pipelining: the sets of different categories live
 * on different slots (a Cluster pipeline may span one node only).
 */
async function alignMembers(redis: HeraldRedis, userId: string, categories: string[], index: string[]): Promise<void> {
  const member = new Set(categories);
  const writes: Promise<number>[] = [];
  for (const category of index) {
    if (!member.has(category)) writes.push(redis.srem(keys.categoryMembers(category), userId));
  }
  for (const category of categories) writes.push(redis.sadd(keys.categoryMembers(category), userId));
  await Promise.all(writes);
}
