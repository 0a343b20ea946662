/**
 * Turns one Pub/Sub message into an event of the kind it says (libs/types events.ts), or says why it
 * is not one; anything refused goes to `dead_letters`. The body is read once. No `kind` (or
 * `delivered`) is an exposure, checked as ever (parse-exposure.ts); the Pub/Sub attribute `kind`, when
 * set, must say the same as the body.
 *
 * Per-user events (engagements, losses) must carry the event id derived from (kind, message, user)
 * (`perUserEventId`): that is what makes them at most once per (message, user, kind) in the store, so
 * an event whose id is not that one is refused rather than stored a second time under another id.
 */
import { perUserEventId } from '@herald/pubsub';
import {
  ENGAGEMENT_KINDS,
  EVENT_KIND_ATTRIBUTE,
  LOSS_KINDS,
  MESSAGE_EVENT_KINDS,
  WEBPUSH_EVENT_KIND,
  WEBPUSH_STATUSES,
  isCategory,
  isReplaceKey,
  isUserId,
  type EngagementKind,
  type LossKind,
  type MessageEvent,
  type MessageEventKind,
  type WebPushEvent,
} from '@herald/types';
import type { ConsumerEvent } from './consumer-event';
import { exposureFrom } from './parse-exposure';
import { fail, isCount, isId, isoTime, readObject, type Fields, type Refusal } from './parse-fields';

/** `clicked`: the action's longest name (events.ts). */
const MAX_ACTION_LENGTH = 64;

export type EventParseResult = { ok: true; event: ConsumerEvent } | Refusal;

const isEngagementKind = (k: unknown): k is EngagementKind => (ENGAGEMENT_KINDS as readonly unknown[]).includes(k);
const isLossKind = (k: unknown): k is LossKind => (LOSS_KINDS as readonly unknown[]).includes(k);
const isMessageKind = (k: unknown): k is MessageEventKind => (MESSAGE_EVENT_KINDS as readonly unknown[]).includes(k);

export function parseEvent(data: Buffer, attributes: Readonly<Record<string, string>> = {}): EventParseResult {
  const body = readObject(data);
  if (!body.ok) return body;
  const { raw } = body;
  const kind = raw.kind ?? 'delivered';
  const attribute = attributes[EVENT_KIND_ATTRIBUTE];
  if (attribute !== undefined && attribute !== kind) return fail(`the kind attribute "${attribute.slice(0, 40)}" differs from the body's kind`);
  if (kind === 'delivered') {
    const exposure = exposureFrom(raw);
    return exposure.ok ? { ok: true, event: { table: 'exposures', event: exposure.event } } : exposure;
  }
  if (isEngagementKind(kind)) return engagementFrom(raw, kind);
  if (isLossKind(kind)) return lossFrom(raw, kind);
  if (isMessageKind(kind)) return messageEventFrom(raw, kind);
  if (kind === WEBPUSH_EVENT_KIND) return webPushFrom(raw);
  return fail(typeof kind === 'string' ? `unknown kind "${kind.slice(0, 40)}"` : 'kind must be a string');
}

/** The fields engagements and losses share: ids, the user, the category and `at`. */
function perUserFields(raw: Fields, kind: string): Refusal | { eventId: string; messageId: string; userId: string; category: string | null; at: string } {
  for (const field of ['eventId', 'messageId'] as const) {
    if (!isId(raw[field])) return fail(`${field} must be a string of 1-200 characters`);
  }
  if (!isUserId(raw.userId)) return fail('userId is missing or not a valid user id');
  if (raw.category !== null && !isCategory(raw.category)) return fail('category must be null or a valid category name');
  const at = isoTime(raw.at);
  if (!at) return fail('at must be an ISO-8601 date-time with a time zone, in the years 0001 to 9999');
  const [eventId, messageId, userId] = [raw.eventId as string, raw.messageId as string, raw.userId];
  if (eventId !== perUserEventId(kind, messageId, userId)) return fail(`eventId is not the one derived from (kind, messageId, userId)`);
  return { eventId, messageId, userId, category: raw.category, at };
}

function engagementFrom(raw: Fields, kind: EngagementKind): EventParseResult {
  const common = perUserFields(raw, kind);
  if ('ok' in common) return common;
  for (const field of ['sessionId', 'gatewayId'] as const) {
    if (!isId(raw[field])) return fail(`${field} must be a string of 1-200 characters`);
  }
  const { action } = raw;
  if (action !== undefined && (typeof action !== 'string' || action.length < 1 || action.length > MAX_ACTION_LENGTH || action.includes('\u0000'))) {
    return fail(`action must be a string of 1-${MAX_ACTION_LENGTH} characters`);
  }
  const event = { ...common, kind, sessionId: raw.sessionId as string, gatewayId: raw.gatewayId as string, ...(action === undefined ? {} : { action }) };
  return { ok: true, event: { table: 'engagements', event } };
}

function lossFrom(raw: Fields, kind: LossKind): EventParseResult {
  const common = perUserFields(raw, kind);
  if ('ok' in common) return common;
  return { ok: true, event: { table: 'losses', event: { ...common, kind } } };
}

/** A lifecycle step; optional facts are checked when present and left out when absent. */
function messageEventFrom(raw: Fields, kind: MessageEventKind): EventParseResult {
  for (const field of ['eventId', 'messageId', 'producer'] as const) {
    if (!isId(raw[field])) return fail(`${field} must be a string of 1-200 characters`);
  }
  if (raw.category !== null && !isCategory(raw.category)) return fail('category must be null or a valid category name');
  const at = isoTime(raw.at);
  if (!at) return fail('at must be an ISO-8601 date-time with a time zone, in the years 0001 to 9999');
  const event: MessageEvent = { eventId: raw.eventId as string, kind, messageId: raw.messageId as string, at, producer: raw.producer as string, category: raw.category };
  for (const field of ['recipients', 'size', 'replaced', 'dropped'] as const) {
    if (raw[field] === undefined) continue;
    if (!isCount(raw[field])) return fail(`${field} must be a whole number from 0 to 2147483647`);
    event[field] = raw[field];
  }
  if (raw.version !== undefined) {
    if (!isCount(raw.version) || raw.version < 1) return fail('version must be a whole number from 1 to 2147483647');
    event.version = raw.version;
  }
  for (const field of ['scheduledFor', 'expiresAt'] as const) {
    if (raw[field] === undefined) continue;
    const time = isoTime(raw[field]);
    if (!time) return fail(`${field} must be an ISO-8601 date-time with a time zone, in the years 0001 to 9999`);
    event[field] = time;
  }
  if (raw.replaceKey !== undefined) {
    if (!isReplaceKey(raw.replaceKey)) return fail('replaceKey must be 1-64 characters of A-Z a-z 0-9 _ - . :');
    event.replaceKey = raw.replaceKey;
  }
  if (kind === 'updated' && event.version === undefined) return fail('an updated event must carry its version');
  return { ok: true, event: { table: 'messages', event } };
}

/** A Web Push outcome (issue 19): one per (message, user's subscription, status); ingest derives its id. */
function webPushFrom(raw: Fields): EventParseResult {
  for (const field of ['eventId', 'messageId', 'subscriptionId'] as const) {
    if (!isId(raw[field])) return fail(`${field} must be a string of 1-200 characters`);
  }
  if (!isUserId(raw.userId)) return fail('userId is missing or not a valid user id');
  if (!(WEBPUSH_STATUSES as readonly unknown[]).includes(raw.status)) return fail(`status must be one of ${WEBPUSH_STATUSES.join(', ')}`);
  const at = isoTime(raw.at);
  if (!at) return fail('at must be an ISO-8601 date-time with a time zone, in the years 0001 to 9999');
  const { httpStatus } = raw;
  if (httpStatus !== undefined && (!Number.isInteger(httpStatus) || (httpStatus as number) < 100 || (httpStatus as number) > 599)) {
    return fail('httpStatus must be an HTTP status code');
  }
  const event: WebPushEvent = {
    eventId: raw.eventId as string,
    kind: WEBPUSH_EVENT_KIND,
    messageId: raw.messageId as string,
    userId: raw.userId,
    subscriptionId: raw.subscriptionId as string,
    status: raw.status as WebPushEvent['status'],
    at,
    ...(httpStatus === undefined ? {} : { httpStatus: httpStatus as number }),
  };
  return { ok: true, event: { table: 'webpush', event } };
}
