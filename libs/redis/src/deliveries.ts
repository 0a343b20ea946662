/**
 * Deliveries in bulk: one atomic `deliver` (inbox.ts) per user for many users at once, and what
 * they did. The write protocol (send-to-users.ts, send-batch.ts) counts its work with these.
 */
import type { HeraldRedis } from './client';
import { ALREADY_DELIVERED, deliverToUser, type DeliverOptions, type Delivery } from './inbox';

/** What a batch of deliveries did. */
export interface DeliveryCounts {
  /** Users whose inbox got the id now. */
  delivered: number;
  /** Users skipped because they already had it (`unique`: a retry, a resumed fan-out). */
  skipped: number;
  /** Old ids the inbox caps dropped to make room. */
  dropped: number;
  /** Older messages with the same replace key that left the inboxes. */
  replaced: number;
  /** Which ids the caps dropped, from whose inbox (one entry per id and user). */
  droppedIds: DroppedId[];
  /**
   * With `reportOffline` (DeliverOptions): the users delivered to whose note reached no gateway
   * (no live session); absent otherwise, and while there is none.
   */
  offlineUserIds?: string[];
}

/** An id an inbox cap pushed out, unread: the funnel's `dropped` event for that user. */
export interface DroppedId {
  userId: string;
  messageId: string;
}

export const noDeliveries = (): DeliveryCounts => ({ delivered: 0, skipped: 0, dropped: 0, replaced: 0, droppedIds: [] });

/** Adds `more` into `into` and returns it. */
export function addCounts(into: DeliveryCounts, more: DeliveryCounts): DeliveryCounts {
  into.delivered += more.delivered;
  into.skipped += more.skipped;
  into.dropped += more.dropped;
  into.replaced += more.replaced;
  for (const d of more.droppedIds) into.droppedIds.push(d);
  if (more.offlineUserIds) (into.offlineUserIds ??= []).push(...more.offlineUserIds);
  return into;
}

/**
 * Some deliveries failed (Redis down, a node lost). The others ran to their end: `counts` says
 * what they did, so counters stay true to what Redis holds; `cause` is the first failure. The
 * ids delivered stay (at-least-once); a retry with `unique` completes the rest without
 * delivering any id twice.
 */
export class DeliveryError extends Error {
  readonly code = 'DELIVERY_FAILED';
  constructor(
    readonly counts: DeliveryCounts,
    /** Deliveries that failed. */
    readonly failed: number,
    override readonly cause: unknown,
  ) {
    super(`${failed} deliveries failed (${counts.delivered} made): ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'DeliveryError';
  }
}

/** Adds one delivery's outcome (to `userId`) to `counts`. */
export function countDelivery(counts: DeliveryCounts, { dropped, replaced, droppedIds, offline }: Delivery, userId: string): void {
  if (dropped === ALREADY_DELIVERED) {
    counts.skipped++;
    return;
  }
  counts.delivered++;
  counts.dropped += dropped;
  counts.replaced += replaced;
  if (droppedIds) for (const messageId of droppedIds) counts.droppedIds.push({ userId, messageId });
  if (offline) (counts.offlineUserIds ??= []).push(userId);
}

/**
 * Most deliveries sent at once (a chunk of `sendToUsers`, `sendBatch`): they go out together,
 * and the next chunk waits for them, which bounds the commands in flight and the promises in
 * memory for a long list.
 */
export const DELIVERY_BATCH = 1000;

/**
 * One atomic `deliver` per user, all issued at once so ioredis auto-pipelining sends them in few
 * round trips (on a Cluster, one batch per node). Every delivery runs to its end even when one
 * fails; then a DeliveryError with the counts is thrown.
 */
export async function deliverToUsers(
  redis: HeraldRedis,
  messageId: string,
  note: string,
  userIds: readonly string[],
  opts: DeliverOptions,
): Promise<DeliveryCounts> {
  const results = await Promise.allSettled(userIds.map((userId) => deliverToUser(redis, userId, messageId, note, opts)));
  const counts = noDeliveries();
  let failed = 0;
  let cause: unknown;
  results.forEach((result, i) => {
    if (result.status === 'rejected') {
      failed++;
      cause ??= result.reason;
    } else countDelivery(counts, result.value, userIds[i]);
  });
  if (failed > 0) throw new DeliveryError(counts, failed, cause);
  return counts;
}
