/**
 * Web Push for a category message (docs/WEBPUSH.md): the message is stored once in the
 * category's log and published once (issue 16), so no step of its delivery knows which members
 * had no live session. One job per message (`category`, on the `herald-webpush` queue, job id the
 * message id) walks the category's members in pages of CATEGORY_PAGE (SSCAN) and queues the
 * per-user job (push-job.ts) for each member who is offline (presence) and has a subscription.
 * The per-user job looks again when it runs: it skips a member who has connected, who read the
 * message (their position in the category is at or past its log entry) or who is no longer a
 * member.
 *
 * Cost: reads O(members) (one SSCAN page, the page's presence and subscription counts per
 * round trip), writes one job per offline member with a subscription; only for category messages
 * that carry a `notification`, and never on the request's path (the request queues one job). The
 * SSCAN cursor is kept in the job's data after each page, so a retried job resumes; a member seen
 * twice (SSCAN may repeat) gets one job (its id is derived from message and user).
 *
 * Members are read when the job runs, not at the send: a member who joined since is skipped by
 * the per-user job (its position starts after the entry), one who left since is not walked.
 */
import type { Job } from 'bullmq';
import { keys, readPresence, type HeraldRedis } from '@herald/redis';
import type { WebPushNotification, WebPushUrgency } from '@herald/types';

/** Members read per round trip. */
export const CATEGORY_PAGE = 500;

export interface CategoryPushData {
  messageId: string;
  category: string;
  /** The message's entry in the category's log: members whose position is at or past it read it. */
  entry: string;
  notification: WebPushNotification;
  urgency?: WebPushUrgency;
  replaceKey?: string;
  /** Epoch ms. */
  expiresAt: number;
  /** The SSCAN cursor to resume from (absent: the start). */
  cursor?: string;
}

export type CategoryPushOutcome = 'fanned_out' | 'skipped_expired';

/** Queues the per-user jobs of one page (idempotent per user). */
export type QueueUsers = (data: CategoryPushData, userIds: string[]) => Promise<void>;

/** The members among `userIds` with no live session and at least one push subscription. */
export async function offlineSubscribers(redis: HeraldRedis, userIds: readonly string[]): Promise<string[]> {
  if (userIds.length === 0) return [];
  const presence = await readPresence(redis, userIds);
  const offline = presence.filter((p) => !p.online).map((p) => p.userId);
  const counts = await Promise.all(offline.map((userId) => redis.hlen(keys.pushSubscriptions(userId))));
  return offline.filter((_, i) => counts[i] > 0);
}

/** Walk the category's members from the job's cursor (see the header). */
export async function runCategoryPush(redis: HeraldRedis, job: Job<CategoryPushData>, queueUsers: QueueUsers): Promise<CategoryPushOutcome> {
  let cursor = job.data.cursor ?? '0';
  do {
    if (Date.now() >= job.data.expiresAt) return 'skipped_expired';
    const [next, members] = await redis.sscan(keys.categoryMembers(job.data.category), cursor, 'COUNT', CATEGORY_PAGE);
    const users = await offlineSubscribers(redis, members);
    if (users.length > 0) await queueUsers(job.data, users);
    cursor = next;
    if (cursor !== '0') await job.updateData({ ...job.data, cursor });
  } while (cursor !== '0');
  return 'fanned_out';
}
