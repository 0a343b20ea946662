/**
 * Events of every kind in the shapes of libs/types events.ts, as ingest and the gateways publish
 * them (per-user event ids derived the way @herald/pubsub derives them), and a publisher that sets
 * the Pub/Sub attribute `kind` as they do.
 */
import type { Topic } from '@google-cloud/pubsub';
import { perUserEventId } from '@herald/pubsub';
import {
  EVENT_KIND_ATTRIBUTE,
  type EngagementEvent,
  type EngagementKind,
  type ExposureEvent,
  type LossEvent,
  type LossKind,
  type MessageEvent,
  type MessageEventKind,
  type WebPushEvent,
  type WebPushStatus,
} from '@herald/types';

export type AnyEvent = ExposureEvent | EngagementEvent | LossEvent | MessageEvent | WebPushEvent;

export const iso = (ms: number) => new Date(ms).toISOString();

export function exposureOf(messageId: string, userId: string, deliveredAtMs: number, category: string | null = null, sessionId = `s-${userId}`): ExposureEvent {
  return { eventId: `x-${messageId}-${userId}-${sessionId}`, messageId, userId, category, sessionId, gatewayId: 'gw-1', deliveredAt: iso(deliveredAtMs), via: 'live' };
}

export function engagementOf(kind: EngagementKind, messageId: string, userId: string, atMs: number, category: string | null = null, action?: string): EngagementEvent {
  return {
    eventId: perUserEventId(kind, messageId, userId),
    kind,
    messageId,
    userId,
    category,
    sessionId: `s-${userId}`,
    gatewayId: 'gw-1',
    at: iso(atMs),
    ...(action === undefined ? {} : { action }),
  };
}

export function lossOf(kind: LossKind, messageId: string, userId: string, atMs: number, category: string | null = null): LossEvent {
  return { eventId: perUserEventId(kind, messageId, userId), kind, messageId, userId, category, at: iso(atMs) };
}

export function messageEventOf(kind: MessageEventKind, messageId: string, atMs: number, facts: Partial<MessageEvent> = {}): MessageEvent {
  const eventId = kind === 'updated' ? `updated:${messageId}:${facts.version}` : `${kind}:${messageId}`;
  return { eventId, kind, messageId, at: iso(atMs), producer: 'producer-1', category: null, ...facts };
}

/** A Web Push outcome for one of a user's subscriptions (ingest derives its id the same way for a repeat). */
export function webPushOf(messageId: string, userId: string, status: WebPushStatus, atMs: number, subscriptionId = `sub-${userId}`): WebPushEvent {
  return { eventId: `webpush:${messageId}:${subscriptionId}:${status}`, kind: 'webpush', messageId, userId, subscriptionId, status, at: iso(atMs), httpStatus: status === 'sent' ? 201 : 410 };
}

/** Publishes each event with the attribute `kind` (none on an exposure, as the gateways do). */
export async function publishEvents(topic: Topic, events: readonly AnyEvent[]): Promise<void> {
  await Promise.all(
    events.map((event) =>
      topic.publishMessage({
        data: Buffer.from(JSON.stringify(event)),
        ...('kind' in event ? { attributes: { [EVENT_KIND_ATTRIBUTE]: event.kind } } : {}),
      }),
    ),
  );
}

/** A deterministic shuffle (seeded), so a failure is reproducible. */
export function shuffled<T>(items: readonly T[], seed = 7): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
