/**
 * The write protocol of a message, composed: what ingest, the gateway's test harness and the
 * benchmarks' producers all run, so none of them can exercise an older protocol than the others.
 *
 * 1. The body first (`storeMessage`, with the message's TTL): a gateway woken by a note, or a
 *    fan-out job, must find the body the note names.
 * 2. Then one atomic `deliver` per recipient (inbox append, cap, inbox TTL, note; see inbox.ts),
 *    the note carrying the body while all its copies stay small (`liveNote`), else a reference.
 *
 * A category message takes step 2 later, in a fan-out job, with reference notes
 * (category-fanout.ts). Counting what was delivered and dropped is the caller's (metrics live in
 * the apps): every call returns the counts, and a failure carries the counts of what did happen.
 */
import type { Message } from '@herald/types';
import type { HeraldRedis } from './client';
import { ALREADY_DELIVERED, deliverToUser, type DeliverOptions } from './inbox';
import { storeMessage } from './messages';
import { liveNote } from './notification';

/** What a batch of deliveries did. */
export interface DeliveryCounts {
  /** Users whose inbox got the id now. */
  delivered: number;
  /** Users skipped because they already had it (`unique`: a retry, a resumed fan-out). */
  skipped: number;
  /** Old ids the inbox caps dropped to make room. */
  dropped: number;
}

export const noDeliveries = (): DeliveryCounts => ({ delivered: 0, skipped: 0, dropped: 0 });

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

/**
 * Recipients delivered to at once by `sendToUsers`: their scripts go out together
 * (auto-pipelined), and the next batch waits for them, which bounds the commands in flight and
 * the promises in memory for a long list.
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
  for (const result of results) {
    if (result.status === 'rejected') {
      failed++;
      cause ??= result.reason;
    } else if (result.value === ALREADY_DELIVERED) counts.skipped++;
    else {
      counts.delivered++;
      counts.dropped += result.value;
    }
  }
  if (failed > 0) throw new DeliveryError(counts, failed, cause);
  return counts;
}

export interface SendOptions extends DeliverOptions {
  /** Recipients delivered to at once (DELIVERY_BATCH). */
  batchSize?: number;
  /** Checked before each batch: an aborted send stops between batches (what was delivered stays). */
  signal?: AbortSignal;
}

/**
 * Send a message to a list of users: store the body, then deliver it to each user, in batches,
 * with the note `liveNote` picks for that many recipients. Returns the counts; a failed delivery
 * throws a DeliveryError counting every batch so far (a failed store throws before any delivery).
 * `unique` and `rememberSeconds` make the send repeatable (an Idempotency-Key's retry).
 */
export async function sendToUsers(
  redis: HeraldRedis,
  message: Message,
  userIds: readonly string[],
  opts: SendOptions,
): Promise<DeliveryCounts> {
  const note = liveNote(await storeMessage(redis, message), message.id, userIds.length);
  const batchSize = opts.batchSize ?? DELIVERY_BATCH;
  const total = noDeliveries();
  for (let start = 0; start < userIds.length; start += batchSize) {
    opts.signal?.throwIfAborted();
    try {
      addCounts(total, await deliverToUsers(redis, message.id, note, userIds.slice(start, start + batchSize), opts));
    } catch (err) {
      if (!(err instanceof DeliveryError)) throw err;
      throw new DeliveryError(addCounts(total, err.counts), err.failed, err.cause);
    }
  }
  return total;
}

/** Adds `more` into `into` and returns it. */
export function addCounts(into: DeliveryCounts, more: DeliveryCounts): DeliveryCounts {
  into.delivered += more.delivered;
  into.skipped += more.skipped;
  into.dropped += more.dropped;
  return into;
}
