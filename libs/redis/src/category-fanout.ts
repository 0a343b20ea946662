/**
 * Step 2 of the write protocol for a category message (see send-to-users.ts): the fan-out to the
 * category's members, the work of one ingest fan-out job, as a function of plain data and a Redis
 * connection.
 *
 * It walks `cat:{<name>}:members` with SSCAN (never SMEMBERS: a category can have millions of
 * members) and delivers each chunk before reading the next, so memory and in-flight commands stay
 * bounded by the chunk size. Each member gets the id in the inbox and a reference note (the body
 * is read once per gateway, not copied per member). Deliveries are `unique`: SSCAN may return a
 * member twice, and a retried job resumes from the last recorded cursor and repeats at most one
 * chunk; neither duplicates an id in an inbox.
 * A member added during the walk may or may not get the message; one removed during it may still.
 */
import { keys } from './keys';
import type { HeraldRedis } from './client';
import { refNote } from './notification';
import { addCounts, deliverToUsers, noDeliveries, type DeliveryCounts } from './send-to-users';

/** The inbox options of a category delivery: `unique` always, and nothing remembered. */
export interface MemberDeliveryOptions {
  /** INBOX_CAP. */
  cap: number;
  /** An offline list's lifetime after its last write (MESSAGE_MAX_TTL_SECONDS). */
  inboxTtlSeconds: number;
}

/**
 * Deliver a stored category message to some of its members: the reference note, `unique`.
 * One chunk of a fan-out walk; a DeliveryError when some deliveries failed (see deliverToUsers).
 */
export function deliverToMembers(
  redis: HeraldRedis,
  messageId: string,
  memberIds: readonly string[],
  opts: MemberDeliveryOptions,
): Promise<DeliveryCounts> {
  const deliver = { cap: opts.cap, inboxTtlSeconds: opts.inboxTtlSeconds, unique: true, rememberSeconds: 0 };
  return deliverToUsers(redis, messageId, refNote(messageId), memberIds, deliver);
}

/** The cursor with which SSCAN starts, and which it returns when the walk is over. */
export const SCAN_START = '0';

/** Where a walk stands; recorded as the job's progress after every chunk. */
export interface FanoutProgress extends DeliveryCounts {
  /** SSCAN cursor of the next chunk (SCAN_START once done). */
  cursor: string;
  chunks: number;
  done: boolean;
}

export const NO_PROGRESS: FanoutProgress = { cursor: SCAN_START, chunks: 0, delivered: 0, skipped: 0, dropped: 0, done: false };

export interface CategoryFanout extends MemberDeliveryOptions {
  messageId: string;
  category: string;
  /** Members read (SSCAN COUNT) and delivered per step (FANOUT_CHUNK_SIZE). */
  chunkSize: number;
  /** Resume from here (a retried job); a fresh walk starts from NO_PROGRESS. */
  from?: FanoutProgress;
  /** Called after every chunk with the progress so far and what this chunk did. */
  onChunk?(progress: FanoutProgress, chunk: DeliveryCounts): Promise<void> | void;
}

/**
 * Walk the category's members and deliver the stored message to each. A chunk whose deliveries
 * failed throws its DeliveryError (its counts are that chunk's; the chunks before it were
 * reported to `onChunk`), and the walk stops there: a retry resumes from the last progress.
 */
export async function fanOutToCategory(redis: HeraldRedis, job: CategoryFanout): Promise<FanoutProgress> {
  const key = keys.categoryMembers(job.category);
  const progress = { ...(job.from ?? NO_PROGRESS) };
  if (progress.done) return progress;
  do {
    const [next, members] = await redis.sscan(key, progress.cursor, 'COUNT', job.chunkSize);
    const chunk = members.length > 0 ? await deliverToMembers(redis, job.messageId, members, job) : noDeliveries();
    addCounts(progress, chunk);
    progress.cursor = next;
    progress.chunks++;
    progress.done = next === SCAN_START;
    await job.onChunk?.({ ...progress }, chunk);
  } while (!progress.done);
  return progress;
}
