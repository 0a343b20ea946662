/**
 * Accepting a message, apart from HTTP: build it, store the body, then fill the offline lists.
 * The input was validated before this runs (route schema), so every Redis write here is for a
 * request already known to be good.
 */
import { randomUUID } from 'node:crypto';
import type { Message } from '@herald/types';
import { storeMessage, type HeraldRedis } from '@herald/redis';
import type { IngestMetrics, MessageTarget } from './metrics';
import { deliverToUsers, type Delivery } from './fanout/deliver-to-users';
import { fanOutToCategory } from './fanout/category-fanout';

const MS_PER_SECOND = 1000;

/**
 * Recipients of a userIds message delivered per batch: bounds the commands in flight (and the
 * promises in memory) when MAX_RECIPIENTS is raised far above its default.
 */
export const USER_DELIVERY_CHUNK = 1000;

/** Exactly one target: a list of users or a category. */
export type Recipients = { userIds: string[] } | { category: string };

export interface SendMessageInput {
  recipients: Recipients;
  payload: unknown;
  ttlSeconds: number;
}

export interface SendMessageDeps {
  redis: HeraldRedis;
  inboxCap: number;
  metrics: IngestMetrics;
}

export interface SentMessage {
  id: string;
  target: MessageTarget;
  recipients: number;
  dropped: number;
}

export function newMessage(input: SendMessageInput, now: number = Date.now()): Message {
  return {
    id: randomUUID(),
    category: 'category' in input.recipients ? input.recipients.category : null,
    payload: input.payload,
    createdAt: new Date(now).toISOString(),
    expiresAt: now + input.ttlSeconds * MS_PER_SECOND,
  };
}

/**
 * The body goes first: a gateway woken by a notification must find the body it names. Then one
 * atomic deliver per recipient. A failure part-way answers 5xx; the ids already delivered stay
 * (at-least-once), and a retry creates a new message until Idempotency-Key exists.
 */
export async function sendMessage(deps: SendMessageDeps, input: SendMessageInput): Promise<SentMessage> {
  const message = newMessage(input);
  const encoded = await storeMessage(deps.redis, message);
  const delivery: Delivery = {
    redis: deps.redis,
    messageId: message.id,
    encoded,
    inboxCap: deps.inboxCap,
    metrics: deps.metrics,
  };
  if ('category' in input.recipients) {
    const result = await fanOutToCategory(delivery, input.recipients.category);
    deps.metrics.accepted.inc({ target: 'category' });
    return { id: message.id, target: 'category', ...result };
  }
  const { userIds } = input.recipients;
  let dropped = 0;
  for (let start = 0; start < userIds.length; start += USER_DELIVERY_CHUNK) {
    dropped += await deliverToUsers(delivery, userIds.slice(start, start + USER_DELIVERY_CHUNK));
  }
  deps.metrics.accepted.inc({ target: 'users' });
  return { id: message.id, target: 'users', recipients: userIds.length, dropped };
}
