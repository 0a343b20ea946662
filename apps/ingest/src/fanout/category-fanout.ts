/**
 * Fan-out of a category message to the category's members: the work of one BullMQ job (see
 * fanout-worker.ts), as a function of plain data and a Redis connection.
 *
 * It walks `cat:{<name>}:members` with SSCAN (never SMEMBERS: a category can have millions of
 * members) and delivers each chunk before reading the next, so memory and in-flight commands stay
 * bounded by the chunk size. Each member gets the id in the inbox and a reference note (the body
 * is read once per gateway, not copied per member). Deliveries are `unique`: SSCAN may return a
 * member twice, and a retried job resumes from the last recorded cursor and repeats at most one
 * chunk; neither duplicates an id in an inbox.
 * A member added during the walk may or may not get the message; one removed during it may still.
 */
import { keys, refNote } from '@herald/redis';
import { deliverToUsers, type Delivery } from './deliver-to-users';

/** The cursor with which SSCAN starts, and which it returns when the walk is over. */
export const SCAN_START = '0';

/** Where a walk stands; recorded as the job's progress after every chunk. */
export interface FanoutProgress {
  /** SSCAN cursor of the next chunk (SCAN_START once done). */
  cursor: string;
  chunks: number;
  delivered: number;
  skipped: number;
  dropped: number;
  done: boolean;
}

export const NO_PROGRESS: FanoutProgress = { cursor: SCAN_START, chunks: 0, delivered: 0, skipped: 0, dropped: 0, done: false };

export interface CategoryFanout {
  delivery: Omit<Delivery, 'note' | 'unique' | 'rememberSeconds'>;
  category: string;
  chunkSize: number;
  /** Resume from here (a retried job); a fresh walk starts from NO_PROGRESS. */
  from?: FanoutProgress;
  /** Called after every chunk with the progress so far. */
  onChunk?(progress: FanoutProgress): Promise<void> | void;
}

export async function fanOutToCategory(job: CategoryFanout): Promise<FanoutProgress> {
  const delivery: Delivery = { ...job.delivery, note: refNote(job.delivery.messageId), unique: true, rememberSeconds: 0 };
  const key = keys.categoryMembers(job.category);
  const progress = { ...(job.from ?? NO_PROGRESS) };
  if (progress.done) return progress;
  do {
    const [next, members] = await delivery.redis.sscan(key, progress.cursor, 'COUNT', job.chunkSize);
    if (members.length > 0) {
      const result = await deliverToUsers(delivery, members);
      progress.delivered += result.delivered;
      progress.skipped += result.skipped;
      progress.dropped += result.dropped;
    }
    progress.cursor = next;
    progress.chunks++;
    progress.done = next === SCAN_START;
    await job.onChunk?.({ ...progress });
  } while (!progress.done);
  return progress;
}
