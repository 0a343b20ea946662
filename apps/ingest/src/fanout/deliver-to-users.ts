/** Puts one stored message into many users' offline lists. */
import { ALREADY_DELIVERED, deliverToUser, type HeraldRedis } from '@herald/redis';
import type { IngestMetrics } from '../metrics';

export interface Delivery {
  redis: HeraldRedis;
  messageId: string;
  /** The live notification: `messageNote(encoded)`, or `refNote(id)` for category fan-out. */
  note: string;
  /** Longest an offline list may grow (INBOX_CAP); older ids are dropped past it. */
  inboxCap: number;
  /** Skip users whose inbox already holds the id: for writes that may run twice (retries). */
  unique: boolean;
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
  const { redis, messageId, note, inboxCap, unique, metrics } = delivery;
  const opts = { cap: inboxCap, unique };
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
