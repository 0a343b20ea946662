/**
 * What the bench writes as a producer or a gateway would: messages into Redis the way ingest
 * writes them, the baselines' frames, channels and rooms, and exposure events of the gateway's
 * shape. The Redis write protocol is called in one place only (`writeMessage`).
 */
import { randomUUID } from 'node:crypto';
import { perUserEventId } from '@herald/pubsub';
import { newMessage, sendToUsers, type HeraldRedis } from '@herald/redis';
import { INBOX_DEFAULT_CAP, type EngagementEvent, type ExposureEvent, type LossEvent, type MessageEvent, type MessageFrame } from '@herald/types';

/** Deliveries issued at once; ioredis auto-pipelining sends each turn's commands together. */
const DELIVER_CHUNK = 5000;

/** One message to `userIds` through the write protocol ingest uses (libs/redis `sendToUsers`). */
export async function writeMessage(redis: HeraldRedis, userIds: readonly string[], payload: unknown, ttlMs: number): Promise<string> {
  const message = newMessage({ payload, ttlMs });
  // Each inbox as ingest keeps it: capped, alive as long as its longest message (whole seconds for EXPIRE).
  await sendToUsers(redis, message, userIds, { cap: INBOX_DEFAULT_CAP, inboxTtlSeconds: Math.ceil(ttlMs / 1000), batchSize: DELIVER_CHUNK });
  return message.id;
}

/** The baseline server's channels: one per connected user, and one to every socket. */
export const baselineChannel = (userId: string): string => `baseline:u:${userId}`;
export const BASELINE_EVERYONE = 'baseline:everyone';

/** The frame Herald's gateway pushes for a message (the Socket.IO baseline emits it as the event's argument). */
export const messageFrame = (payload: unknown, category: string | null = null): MessageFrame =>
  ({ type: 'message', id: randomUUID(), category, payload, createdAt: new Date().toISOString() });

/** The same frame serialized, ready for the raw `ws` baseline to send as it is. */
export const baselineFrame = (payload: unknown, category: string | null = null): string => JSON.stringify(messageFrame(payload, category));

/** The Socket.IO baseline's room for a user (workers/socketio-server.ts); every socket of the user joins it. */
export const socketioRoom = (userId: string): string => `u:${userId}`;

/** An exposure event as the gateway's publisher makes one (`deliveredAt` stamped now), serialized. */
export function exposureEvent(userId: string, sessionId: string, gatewayId: string, messageId: string = randomUUID()): Buffer {
  const [eventId, deliveredAt] = [randomUUID(), new Date().toISOString()];
  return Buffer.from(JSON.stringify({ eventId, messageId, userId, category: null, sessionId, gatewayId, deliveredAt, via: 'live' } satisfies ExposureEvent));
}

/** The kinds besides exposures the direct source mixes in, in turn (the consumer's other tables). */
export const OTHER_KINDS = ['opened', 'clicked', 'expired', 'sent'] as const;

/**
 * Another kind's event about a message the user was just delivered, as the gateway (engagements),
 * the gateway or ingest (losses) and ingest (`sent`) publish them: the body and the attribute `kind`.
 */
export function otherEvent(kind: (typeof OTHER_KINDS)[number], messageId: string, userId: string, sessionId: string, gatewayId: string) {
  const at = new Date().toISOString();
  let event: EngagementEvent | LossEvent | MessageEvent;
  if (kind === 'opened' || kind === 'clicked') {
    event = { eventId: perUserEventId(kind, messageId, userId), kind, messageId, userId, category: null, sessionId, gatewayId, at };
  } else if (kind === 'expired') {
    event = { eventId: perUserEventId(kind, messageId, userId), kind, messageId, userId, category: null, at };
  } else {
    event = { eventId: `sent:${messageId}`, kind, messageId, at, producer: gatewayId, category: null, recipients: 1, size: 64, version: 1 };
  }
  return { data: Buffer.from(JSON.stringify(event)), attributes: { kind } };
}
