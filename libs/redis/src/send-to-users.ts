/**
 * The write protocol of a message, composed: what ingest, the gateway's test harness and the
 * benchmarks' producers all run, so none of them can exercise an older protocol than the others.
 *
 * 1. The body (`bodyWrite`, with the message's TTL), stored before any note names it: a gateway
 *    woken by a note must find the body the note names.
 * 2. One atomic `deliver` per recipient (inbox append, cap, inbox TTL, note; see inbox.ts),
 *    the note carrying the body while all its copies stay small (`liveNote`), else a reference,
 *    in chunks of at most DELIVERY_BATCH recipients.
 *
 * This is `sendBatch` (send-batch.ts) with one message, so the two cannot drift apart. On one
 * redis-server the body's SET and the first chunk's deliveries are issued together, in that
 * order (on the auto-pipelined `commands` connection: one socket write, one round trip): Redis
 * runs a connection's commands in the order sent, so the body is stored before any note names
 * it. On a Cluster the body's key and the recipients' keys are on other slots, often other
 * nodes, so the body is stored first and the deliveries follow.
 *
 * A category message (`publishToCategory`) has one append to its category's log instead of step 2
 * (category-log.ts): stored once, the gateways deliver it to its members. Counting what was
 * delivered and dropped is the caller's (metrics live in the apps): every call returns the
 * counts, and a failure carries the counts of what did happen.
 */
import type { Message } from '@herald/types';
import type { HeraldRedis } from './client';
import type { DeliveryCounts } from './deliveries';
import type { DeliverOptions } from './inbox';
import type { CategoryAppend, CategoryAppendOptions } from './category-log';
import type { RecordInput } from './message-record';
import { sendBatch } from './send-batch';

/** The replace key is the message's (`message.replaceKey`, or `record.replaceKey`). */
export interface SendOptions extends Omit<DeliverOptions, 'replaceKey'> {
  /** Recipients delivered to at once (DELIVERY_BATCH). */
  batchSize?: number;
  /**
   * Checked before each chunk: an aborted send stops between chunks (what was sent stays). The
   * first chunk carries the body, so a send aborted before it writes nothing.
   */
  signal?: AbortSignal;
  /** Who sent it and how, for its record (message-record.ts). */
  record?: RecordInput;
}

/**
 * Send a message to a list of users: its body and its deliveries (see the header). Returns the
 * counts; a failed delivery throws a DeliveryError counting every chunk so far, and a failed
 * store throws its error with nothing delivered. `unique` and `rememberSeconds` make the send
 * repeatable (an Idempotency-Key's retry).
 */
export async function sendToUsers(
  redis: HeraldRedis,
  message: Message,
  userIds: readonly string[],
  opts: SendOptions,
): Promise<DeliveryCounts> {
  const repeatable = opts.unique ? { rememberSeconds: opts.rememberSeconds ?? 0 } : undefined;
  const [outcome] = await sendBatch(redis, [{ message, userIds, repeatable, record: opts.record, reportOffline: opts.reportOffline }], {
    cap: opts.cap,
    inboxTtlSeconds: opts.inboxTtlSeconds,
    chunkSize: opts.batchSize,
    signal: opts.signal,
  });
  if (outcome.error !== undefined) throw outcome.error;
  return outcome.counts;
}

/**
 * Send a message to a category: its body, then its entry in the category's log (category-log.ts),
 * the note carrying the body while it is small: `sendBatch` with one category message. On one
 * redis-server both go in one write; on a Cluster the append waits for the body's SET. Returns the
 * append (entry null when `unique` found the id appended before); a failure throws.
 */
export async function publishToCategory(
  redis: HeraldRedis,
  message: Message,
  category: string,
  opts: Omit<CategoryAppendOptions, 'replaceKey'> & { record?: RecordInput },
): Promise<CategoryAppend> {
  const repeatable = opts.unique ? { rememberSeconds: opts.rememberSeconds ?? 0 } : undefined;
  const [outcome] = await sendBatch(redis, [{ message, userIds: [], category, repeatable, record: opts.record }], {
    cap: opts.cap,
    inboxTtlSeconds: opts.lifetimeSeconds,
    categoryLogCap: opts.cap,
  });
  if (outcome.error !== undefined) throw outcome.error;
  return outcome.appended!;
}
