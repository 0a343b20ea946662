/**
 * The events on the Pub/Sub topic `exposures` besides the Contract's exposure (issues 17 and 18).
 *
 * Every message on the topic is one JSON event. Its `kind` says what happened; it is also the
 * Pub/Sub attribute `kind`, so a subscription can filter on it. An event without `kind` is an
 * exposure (`delivered`): the Contract's shape, as gateways have always published it, so stored
 * rows and existing consumers stay valid.
 *
 * - per delivery (one user): `delivered` (ExposureEvent), `opened` / `clicked` / `dismissed`
 *   (EngagementEvent, from the client), `expired` / `dropped` (an id that left an offline list
 *   unread);
 * - per message (the producer's side): `sent`, `scheduled`, `updated`, `recalled` (MessageEvent,
 *   from ingest);
 * - per Web Push attempt's outcome (one user's subscription): `webpush` (WebPushEvent, from ingest).
 */

/** What happened to one message for one user after it was delivered, as the client reports it. */
export const ENGAGEMENT_KINDS = ['opened', 'clicked', 'dismissed'] as const;
export type EngagementKind = (typeof ENGAGEMENT_KINDS)[number];

/** An id that left a user's offline list unread: its TTL passed, or the list's cap pushed it out. */
export const LOSS_KINDS = ['expired', 'dropped'] as const;
export type LossKind = (typeof LOSS_KINDS)[number];

/** What a producer did with a message, published by ingest. */
export const MESSAGE_EVENT_KINDS = ['sent', 'scheduled', 'updated', 'recalled'] as const;
export type MessageEventKind = (typeof MESSAGE_EVENT_KINDS)[number];

/** A Web Push to one of a user's subscriptions (issue 19): its outcome, published by ingest. */
export const WEBPUSH_EVENT_KIND = 'webpush' as const;
export type WebPushEventKind = typeof WEBPUSH_EVENT_KIND;

export type EventKind = 'delivered' | EngagementKind | LossKind | MessageEventKind | WebPushEventKind;

/** The Pub/Sub attribute naming an event's kind (absent on an exposure: `delivered`). */
export const EVENT_KIND_ATTRIBUTE = 'kind';

/**
 * One message's lifecycle, one event per step, published by ingest once the step is in Redis.
 * Steps may reach the consumer in any order and more than once: each carries only its own facts
 * and storing one is idempotent.
 */
export interface MessageEvent {
  /** Unique per step: `<kind>:<messageId>` (`updated`: `updated:<messageId>:<version>`). */
  eventId: string;
  kind: MessageEventKind;
  messageId: string;
  /** ISO-8601: when the step happened (`sent`: the message's createdAt). */
  at: string;
  /** The token `sub` that sent the message. */
  producer: string;
  /** The category of a category message, null for a message to users. */
  category: string | null;
  /** `sent`: users the message went to (a category: its members when sent). */
  recipients?: number;
  /** `sent` / `updated`: bytes of the payload's JSON. */
  size?: number;
  /** `sent`: the replace key, when it has one. */
  replaceKey?: string;
  /** `sent`: older pending messages it replaced (user lists and the category's log). */
  replaced?: number;
  /** `sent`: ids the users' offline lists dropped at their cap to make room. */
  dropped?: number;
  /** `scheduled` (and `sent` of a scheduled message): the time it was asked for. */
  scheduledFor?: string;
  /** `updated`: the new version (the first send is version 1). */
  version?: number;
  /** `sent` / `updated`: ISO-8601, when the message expires (its TTL counted from createdAt). */
  expiresAt?: string;
}

/**
 * A client's `event` frame, once per (message, user, kind): `eventId` is derived from those three
 * (`perUserEventId` in @herald/pubsub), so a repeat, from any device or gateway, is the same event and the
 * consumer stores it once. The consumer stores it only for a message the user was delivered.
 */
export interface EngagementEvent {
  eventId: string;
  kind: EngagementKind;
  messageId: string;
  userId: string;
  /** The message's category as the gateway knows it, or null. */
  category: string | null;
  sessionId: string;
  gatewayId: string;
  /** ISO-8601: when the gateway received the frame. */
  at: string;
  /** `clicked`: which action (≤ 64 characters), when the client names one. */
  action?: string;
}

/**
 * An id that left one user's offline list unread: `expired` (a gateway found its TTL passed, at a
 * drain) or `dropped` (ingest's deliver pushed it out at the list's cap). `eventId` is derived from
 * (kind, message, user), so two gateways finding the same expired id make one event.
 */
export interface LossEvent {
  eventId: string;
  kind: LossKind;
  messageId: string;
  userId: string;
  category: string | null;
  /** ISO-8601: when it was found expired or dropped. */
  at: string;
}

/**
 * How a Web Push to one subscription ended: `sent` (the push service took it, 201), `gone` (404 or
 * 410: the subscription expired or was revoked; Herald removed it), `throttled` (429: tried again
 * after its Retry-After; one event per 429), `failed` (out of attempts, or refused for good by the
 * push service).
 */
export const WEBPUSH_STATUSES = ['sent', 'failed', 'gone', 'throttled'] as const;
export type WebPushStatus = (typeof WEBPUSH_STATUSES)[number];

/**
 * A Web Push outcome for one (message, user, subscription). `eventId` is derived from (kind,
 * message, subscription and status; a `throttled` one also from its attempt), so a job run twice
 * makes the same event.
 */
export interface WebPushEvent {
  eventId: string;
  kind: WebPushEventKind;
  messageId: string;
  userId: string;
  /** The subscription's id (POST /v1/push-subscriptions answered it). */
  subscriptionId: string;
  status: WebPushStatus;
  /** The push service's HTTP status, when it answered. */
  httpStatus?: number;
  /** ISO-8601: when the outcome was known. */
  at: string;
}
