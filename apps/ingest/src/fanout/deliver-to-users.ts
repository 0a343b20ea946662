/** Puts one stored message into many users' offline lists. */
import { ALREADY_DELIVERED, deliverToUser, type HeraldRedis } from '@herald/redis';
import type { IngestMetrics } from '../metrics';

export interface Delivery {
  redis: HeraldRedis;
  messageId: string;
  /** The live notification: `liveNote(…)` for a list of users, `refNote(id)` for category fan-out. */
  note: string;
  /** Longest an offline list may grow (INBOX_CAP); older ids are dropped past it. */
  inboxCap: number;
  /** An offline list's lifetime after its last write (MESSAGE_MAX_TTL_SECONDS). */
  inboxTtlSeconds: number;
  /** Skip users who already got the id: for writes that may run twice (retries). */
  unique: boolean;
  /** Remember each delivery this long (IDEMPOTENCY_TTL_SECONDS, under an Idempotency-Key), else 0. */
  rememberSeconds: number;
  metrics: IngestMetrics;
}

export interface DeliveryResult {
  /** Users whose inbox got the id now. */
  delivered: number;
  /** Users skipped because their inbox already held it (`unique`). */
  skipped: number;
  /** Old ids the caps dropped. */
  dropped: number;
}

/**
 * One atomic `deliver` script per user (RPUSH + cap + SPUBLISH), all issued at once so ioredis
 * auto-pipelining sends them in few round trips (on a Cluster, one batch per node). Every
 * delivery runs to its end even when one fails, so the counters stay true to what Redis did; the
 * first failure is thrown afterwards.
 */
export async function deliverToUsers(delivery: Delivery, userIds: readonly string[]): Promise<DeliveryResult> {
  const { redis, messageId, note, inboxCap, inboxTtlSeconds, unique, rememberSeconds, metrics } = delivery;
  const opts = { cap: inboxCap, unique, inboxTtlSeconds, rememberSeconds };
  const results = await Promise.allSettled(userIds.map((userId) => deliverToUser(redis, userId, messageId, note, opts)));
  const out: DeliveryResult = { delivered: 0, skipped: 0, dropped: 0 };
  let failure: unknown;
  for (const result of results) {
    if (result.status === 'rejected') failure ??= result.reason;
    else if (result.value === ALREADY_DELIVERED) out.skipped++;
    else {
      out.delivered++;
      out.dropped += result.value;
    }
  }
  if (out.dropped > 0) metrics.inboxDropped.inc(out.dropped);
  if (failure !== undefined) throw failure;
  return out;
}
