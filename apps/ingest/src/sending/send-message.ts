/**
 * Accepting a message, apart from HTTP: build it, then run the write protocol of `@herald/redis`
 * (body first, then the deliveries) for a list of users in the request, or store it once in its
 * category's log (category-log.ts: the gateways deliver it to the members they hold). The input
 * was validated before this runs (route schema), so every Redis write here is for a request
 * already known to be good. What is ingest's own here: the metrics.
 */
import type { Message } from '@herald/types';
import {
  DeliveryError,
  keys,
  newMessage,
  noDeliveries,
  publishToCategory,
  sendToUsers,
  type CategoryAppend,
  type DeliveryCounts,
  type HeraldRedis,
  type RecordInput,
} from '@herald/redis';
import type { IngestMetrics, MessageTarget } from '../metrics';
import { sentEvents, type EventOutbox, type SentFacts } from '../events/event-outbox';
import type { WebPushQueue, WebPushRequest } from '../webpush/web-push-queue';
import type { SendWindow } from './send-window';

const MS_PER_SECOND = 1000;

/** Exactly one target: a list of users or a category. */
export type Recipients = { userIds: string[] } | { category: string };

export interface SendMessageInput {
  recipients: Recipients;
  payload: unknown;
  ttlSeconds: number;
  /**
   * Set when the send may already have run (Idempotency-Key): the id and creation time of the
   * first attempt, and deliveries that skip users who already got the id (remembered for
   * `rememberSeconds`, IDEMPOTENCY_TTL_SECONDS, so an id acknowledged since is not sent again).
   */
  repeatable?: { id: string; createdAt: number; rememberSeconds: number };
  /**
   * Who sends it and how, kept in the message's record (its producer may update or recall it);
   * `replaceKey` is the message's replace key.
   */
  record?: RecordInput;
  /** A scheduled message's `sendAt` (epoch ms), for its `sent` event. */
  scheduledFor?: number;
  /** `notification` (+ `urgency`): a Web Push for recipients with no live session (users only). */
  webPush?: WebPushRequest;
}

export interface SendMessageDeps {
  redis: HeraldRedis;
  inboxCap: number;
  /** Entries a category's log keeps (CATEGORY_LOG_CAP). */
  categoryLogCap: number;
  /** An offline list's lifetime after its last write (MESSAGE_MAX_TTL_SECONDS). */
  inboxTtlSeconds: number;
  metrics: IngestMetrics;
  /** Where the `sent` and `dropped` events go (event-outbox.ts); none: no events (tools, tests). */
  events?: EventOutbox;
  /** Web Push (webpush/); none: off (no VAPID keys), a message's `notification` is ignored. */
  webPush?: WebPushQueue;
  /** Where a send waits to go with the others of its window (send-window.ts); none: at once. */
  window?: SendWindow;
}

export interface SentMessage {
  id: string;
  target: MessageTarget;
  /** Users whose offline list got the id in this request (0 for a category: its gateways deliver). */
  delivered: number;
  /** Ids the caps dropped: from the recipients' offline lists, or entries from the category's log. */
  dropped: number;
}

/** The message a send makes (a repeat under an idempotency key: the first attempt's id and time). */
export function messageOf(input: SendMessageInput, repeatable: { id: string; createdAt: number } | undefined = input.repeatable): Message {
  return newMessage({
    payload: input.payload,
    ttlMs: input.ttlSeconds * MS_PER_SECOND,
    category: 'category' in input.recipients ? input.recipients.category : null,
    id: repeatable?.id,
    createdAt: repeatable?.createdAt,
    replaceKey: input.record?.replaceKey ?? undefined,
  });
}

/**
 * The failure of a delivery batch as Redis reported it, after counting the ids its successful
 * deliveries dropped (a DeliveryError carries their counts), so the counter stays true to Redis.
 */
export function deliveryFailure(metrics: IngestMetrics, err: unknown): unknown {
  if (!(err instanceof DeliveryError)) return err;
  metrics.inboxDropped.inc(err.counts.dropped);
  metrics.replaced.inc({ target: 'users' }, err.counts.replaced);
  return err.cause;
}

/**
 * A failure part-way answers 5xx; the ids already delivered stay (at-least-once), and a retry
 * with the same Idempotency-Key completes the rest without delivering any id twice to a user.
 */
export async function sendMessage(deps: SendMessageDeps, input: SendMessageInput): Promise<SentMessage> {
  const message = messageOf(input);
  await deps.window?.turn();
  if ('category' in input.recipients) {
    const { category } = input.recipients;
    // "Its members when sent", read beside the append (same round trip); only for the event.
    const members = deps.events ? deps.redis.scard(keys.categoryMembers(category)).catch(() => 0) : undefined;
    const appended = await publishToCategory(deps.redis, message, category, {
      cap: deps.categoryLogCap,
      lifetimeSeconds: deps.inboxTtlSeconds,
      unique: input.repeatable !== undefined,
      rememberSeconds: input.repeatable?.rememberSeconds ?? 0,
      record: input.record,
    });
    const { dropped, replaced } = appended;
    deps.metrics.categoryLogDropped.inc(dropped);
    deps.metrics.replaced.inc({ target: 'category' }, replaced);
    deps.metrics.accepted.inc({ target: 'category' });
    if (deps.events) {
      const recipients = (await members) ?? 0;
      await deps.events.append(sentEvents(factsOf(message, input), { recipients, replaced, dropped: [] }));
    }
    await queueWebPush(deps, message, input, noDeliveries(), appended);
    return { id: message.id, target: 'category', delivered: 0, dropped };
  }
  const opts = {
    cap: deps.inboxCap,
    inboxTtlSeconds: deps.inboxTtlSeconds,
    unique: input.repeatable !== undefined,
    rememberSeconds: input.repeatable?.rememberSeconds ?? 0,
    record: input.record,
    reportOffline: input.webPush !== undefined && deps.webPush !== undefined,
  };
  const { userIds } = input.recipients;
  let counts: DeliveryCounts;
  try {
    counts = await sendToUsers(deps.redis, message, userIds, opts);
  } catch (err) {
    throw deliveryFailure(deps.metrics, err);
  }
  const { delivered, dropped, replaced } = counts;
  deps.metrics.inboxDropped.inc(dropped);
  deps.metrics.replaced.inc({ target: 'users' }, replaced);
  deps.metrics.accepted.inc({ target: 'users' });
  if (deps.events) {
    await deps.events.append(sentEvents(factsOf(message, input), { recipients: userIds.length, replaced, dropped: counts.droppedIds }));
  }
  await queueWebPush(deps, message, input, counts);
  return { id: message.id, target: 'users', delivered, dropped };
}

/** The facts of a `sent` event that come from the message and the request. */
export function factsOf(message: Message, input: Pick<SendMessageInput, 'payload' | 'record' | 'scheduledFor'>): SentFacts {
  return {
    message,
    producer: input.record?.producer ?? '',
    category: message.category,
    // The payload's JSON: what the producer sent (the stored frame adds a fixed envelope).
    size: Buffer.byteLength(JSON.stringify(input.payload) ?? ''),
    // Always present (undefined when not scheduled): every facts object has one shape.
    scheduledFor: input.scheduledFor,
  };
}

/**
 * Queue the Web Push of a message: to users, for those of them no gateway held a session of; to a
 * category, the job that finds its offline members (`appended`: the log entry; none for a repeat
 * under an Idempotency-Key, whose first attempt queued it).
 */
export async function queueWebPush(
  deps: SendMessageDeps,
  message: Message,
  input: Pick<SendMessageInput, 'webPush'>,
  counts: DeliveryCounts,
  appended?: CategoryAppend,
): Promise<void> {
  if (!deps.webPush || !input.webPush) return;
  if (message.category !== null) {
    if (!appended?.entry) return;
    const { id: messageId, expiresAt, replaceKey, category } = message;
    return deps.webPush.enqueueCategory({ messageId, expiresAt, replaceKey, category, entry: appended.entry, push: input.webPush });
  }
  if (!counts.offlineUserIds) return;
  await deps.webPush.enqueue({
    messageId: message.id,
    expiresAt: message.expiresAt,
    replaceKey: message.replaceKey,
    userIds: counts.offlineUserIds,
    push: input.webPush,
  });
}
