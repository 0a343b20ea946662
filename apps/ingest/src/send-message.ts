/**
 * Accepting a message, apart from HTTP: build it, store the body, then fill the offline lists
 * (a list of users: here, in the request) or queue the fan-out (a category: a BullMQ job).
 * The input was validated before this runs (route schema), so every Redis write here is for a
 * request already known to be good.
 */
import { randomUUID } from 'node:crypto';
import type { Message } from '@herald/types';
import { liveNote, storeMessage, type HeraldRedis } from '@herald/redis';
import type { IngestMetrics, MessageTarget } from './metrics';
import { deliverToUsers, type Delivery } from './fanout/deliver-to-users';
import { enqueueFanout, type FanoutQueue } from './fanout/fanout-queue';

const MS_PER_SECOND = 1000;

/**
 * Recipients of a userIds message delivered per batch: bounds the commands in flight (and the
 * promises in memory) when MAX_RECIPIENTS is raised above its default.
 */
export const USER_DELIVERY_CHUNK = 1000;

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
}

export interface SendMessageDeps {
  redis: HeraldRedis;
  fanout: FanoutQueue;
  inboxCap: number;
  /** An offline list's lifetime after its last write (MESSAGE_MAX_TTL_SECONDS). */
  inboxTtlSeconds: number;
  metrics: IngestMetrics;
}

export interface SentMessage {
  id: string;
  target: MessageTarget;
  /** Users whose offline list got the id in this request (0 for a category: the job does it). */
  delivered: number;
  dropped: number;
}

export function newMessage(input: SendMessageInput, now: number = Date.now()): Message {
  const createdAt = input.repeatable?.createdAt ?? now;
  return {
    id: input.repeatable?.id ?? randomUUID(),
    category: 'category' in input.recipients ? input.recipients.category : null,
    payload: input.payload,
    createdAt: new Date(createdAt).toISOString(),
    expiresAt: createdAt + input.ttlSeconds * MS_PER_SECOND,
  };
}

/**
 * The body goes first: a gateway woken by a notification, or a fan-out job, must find the body it
 * names. Then one atomic deliver per recipient, or the fan-out job. The notification carries the
 * body only while all its copies stay small (`liveNote`); otherwise each gateway reads it once.
 * A failure part-way answers 5xx; the ids already delivered stay (at-least-once), and a retry
 * with the same Idempotency-Key completes the rest without delivering any id twice to a user.
 */
export async function sendMessage(deps: SendMessageDeps, input: SendMessageInput): Promise<SentMessage> {
  const message = newMessage(input);
  const encoded = await storeMessage(deps.redis, message);
  if ('category' in input.recipients) {
    await enqueueFanout(deps.fanout, { messageId: message.id, category: input.recipients.category });
    deps.metrics.accepted.inc({ target: 'category' });
    return { id: message.id, target: 'category', delivered: 0, dropped: 0 };
  }
  const { userIds } = input.recipients;
  const delivery: Delivery = {
    redis: deps.redis,
    messageId: message.id,
    note: liveNote(encoded, message.id, userIds.length),
    inboxCap: deps.inboxCap,
    inboxTtlSeconds: deps.inboxTtlSeconds,
    unique: input.repeatable !== undefined,
    rememberSeconds: input.repeatable?.rememberSeconds ?? 0,
    metrics: deps.metrics,
  };
  const sent: SentMessage = { id: message.id, target: 'users', delivered: 0, dropped: 0 };
  for (let start = 0; start < userIds.length; start += USER_DELIVERY_CHUNK) {
    const result = await deliverToUsers(delivery, userIds.slice(start, start + USER_DELIVERY_CHUNK));
    sent.delivered += result.delivered;
    sent.dropped += result.dropped;
  }
  deps.metrics.accepted.inc({ target: 'users' });
  return sent;
}
