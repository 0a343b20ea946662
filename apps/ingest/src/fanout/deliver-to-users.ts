/** Puts one stored message into many users' offline lists. */
import { deliverToUser, type HeraldRedis } from '@herald/redis';
import type { IngestMetrics } from '../metrics';

export interface Delivery {
  redis: HeraldRedis;
  messageId: string;
  /** The message as `storeMessage` encoded it; it travels as the live notification. */
  encoded: string;
  /** Longest an offline list may grow (INBOX_CAP); older ids are dropped past it. */
  inboxCap: number;
  metrics: IngestMetrics;
}

/**
 * One atomic `deliver` script per user (RPUSH + cap + PUBLISH), all issued at once so ioredis
 * auto-pipelining sends them in few round trips. Every delivery runs to its end even when one
 * fails, so the drop counter stays true to what Redis did; the first failure is thrown afterwards.
 * Returns how many ids the caps dropped.
 */
export async function deliverToUsers(delivery: Delivery, userIds: readonly string[]): Promise<number> {
  const { redis, messageId, encoded, inboxCap, metrics } = delivery;
  const results = await Promise.allSettled(
    userIds.map((userId) => deliverToUser(redis, userId, messageId, encoded, inboxCap)),
  );
  let dropped = 0;
  let failure: unknown;
  for (const result of results) {
    if (result.status === 'fulfilled') dropped += result.value;
    else failure ??= result.reason;
  }
  if (dropped > 0) metrics.inboxDropped.inc(dropped);
  if (failure !== undefined) throw failure;
  return dropped;
}
