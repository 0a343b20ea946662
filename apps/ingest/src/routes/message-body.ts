/**
 * The body of `POST /v1/messages`, which is also each item of `POST /v1/messages/batch`: its
 * schema, the codes its validation failures answer, the payload depth bound, and the send it
 * asks for. One definition, so a batch item is refused exactly when the same body sent alone is.
 */
import { HeraldError, webPushBody, WEBPUSH_LIMITS, WEBPUSH_MAX_PLAINTEXT_BYTES, WEBPUSH_URGENCIES, type WebPushNotification, type WebPushUrgency } from '@herald/types';
import type { RouteDeps } from './deps';
import { categorySchema, replaceKeySchema, userIdSchema } from './schemas';
import type { SchemaErrorRule } from './schema-errors';
import type { Recipients, SendMessageInput } from '../sending/send-message';

export interface SendMessageBody {
  userIds?: string[];
  category?: string;
  payload: unknown;
  ttlSeconds?: number;
  replaceKey?: string;
  notification?: WebPushNotification;
  urgency?: WebPushUrgency;
}

const EXACTLY_ONE_TARGET = 'Give exactly one of "userIds" or "category".';

/**
 * Deepest nesting of arrays and objects a payload may have. Storing a message runs
 * JSON.stringify, which recurses and overflows the stack a few thousand levels down (a 10 KB
 * body), so a deeper payload was a 500; this bound is far from that and is the same everywhere.
 */
export const MAX_PAYLOAD_DEPTH = 100;

const isContainer = (value: unknown): value is object => typeof value === 'object' && value !== null;

/**
 * Whether `value` nests arrays/objects deeper than `max`, walked level by level (no recursion),
 * each level holding only the containers found in the one above: a flat payload makes no array
 * (a `filter` and a `flatMap` of each level took ~1 µs a message, docs/BENCHMARKS.md).
 */
function nestedDeeperThan(value: unknown, max: number): boolean {
  if (!isContainer(value)) return false;
  let level: object[] = [value];
  for (let depth = 0; ; depth++) {
    if (depth >= max) return true;
    let next: object[] | undefined;
    for (const container of level) {
      const values: unknown[] = Array.isArray(container) ? container : Object.values(container);
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (isContainer(v)) (next ??= []).push(v);
      }
    }
    if (next === undefined) return false;
    level = next;
  }
}

/** Refuses a payload nested deeper than MAX_PAYLOAD_DEPTH; `label` names the body in the message. */
export function checkPayloadDepth(payload: unknown, label = 'body'): void {
  if (nestedDeeperThan(payload, MAX_PAYLOAD_DEPTH)) {
    throw new HeraldError('INVALID_BODY', `${label}/payload is nested more than ${MAX_PAYLOAD_DEPTH} levels deep; flatten it.`);
  }
}

/** The body's JSON schema (`extra`: more properties, e.g. a batch item's idempotencyKey). */
export function messageBodySchema(config: RouteDeps['config'], extra: Record<string, object> = {}) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['payload'],
    properties: {
      userIds: {
        type: 'array',
        minItems: 1,
        maxItems: config.MAX_RECIPIENTS,
        uniqueItems: true,
        items: userIdSchema,
        description: `Recipients: 1 to ${config.MAX_RECIPIENTS} distinct user ids. The message's category is null.`,
      },
      category: {
        ...categorySchema,
        description: `Send to every member of this category (members at the time of sending; none is fine). ${categorySchema.description}`,
      },
      payload: {
        description: `Any JSON value (null included), arrays and objects nested at most ${MAX_PAYLOAD_DEPTH} deep; delivered to clients as it is.`,
      },
      ttlSeconds: {
        type: 'integer',
        minimum: 1,
        maximum: config.MESSAGE_MAX_TTL_SECONDS,
        default: config.MESSAGE_DEFAULT_TTL_SECONDS,
        description: 'Seconds until the message expires and is never delivered again.',
      },
      replaceKey: {
        ...replaceKeySchema,
        description:
          'Optional. Per recipient at most one pending message per key: this message takes the place of the last one ' +
          'sent with the same key to the same user (or category), which leaves the offline list (or the category\'s log) ' +
          'in the same step, so a user who connects later gets only this one. Connected sessions get this message with ' +
          '`"replaces":"<older id>"`; every frame of it carries `replaceKey`. ' +
          replaceKeySchema.description,
      },
      notification: {
        type: 'object',
        additionalProperties: false,
        required: ['title', 'body'],
        properties: {
          title: { type: 'string', minLength: 1, maxLength: WEBPUSH_LIMITS.title },
          body: { type: 'string', maxLength: WEBPUSH_LIMITS.body },
          url: { type: 'string', maxLength: WEBPUSH_LIMITS.url },
          icon: { type: 'string', maxLength: WEBPUSH_LIMITS.icon },
          tag: { type: 'string', maxLength: WEBPUSH_LIMITS.tag },
        },
        description:
          'Optional. A Web Push notification for recipients with no live session when the message reaches them ' +
          '(docs/WEBPUSH.md): each of their push subscriptions gets `{"messageId","notification"}` (at most ' +
          `${WEBPUSH_MAX_PLAINTEXT_BYTES} bytes of JSON), unless they connect before it is sent. Users only, not categories; ` +
          'ignored when the deployment has no VAPID keys.',
      },
      urgency: {
        type: 'string',
        enum: [...WEBPUSH_URGENCIES],
        description: 'Optional, with `notification`: the push\'s RFC 8030 Urgency (default normal).',
      },
      ...extra,
    },
    oneOf: [{ required: ['userIds'] }, { required: ['category'] }],
  };
}

/** The codes of the body's validation failures (paths relative to the body). */
export const MESSAGE_BODY_RULES: SchemaErrorRule[] = [
  { in: 'body', path: /^$/, keyword: 'oneOf', code: 'INVALID_BODY', message: EXACTLY_ONE_TARGET },
  { in: 'body', path: /^\/userIds\/\d+$/, code: 'INVALID_USER_ID' },
  { in: 'body', path: /^\/category$/, code: 'INVALID_CATEGORY' },
  { in: 'body', path: /^\/replaceKey$/, code: 'INVALID_REPLACE_KEY' },
  { in: 'body', path: /^\/notification(\/.*)?$/, code: 'INVALID_NOTIFICATION' },
];

/** A message id as long as any (a UUID), for the size check of a notification's push body. */
const LONGEST_ID = '00000000-0000-0000-0000-000000000000';

/** Refuses a notification whose push body would not fit in one push (RFC 8291). */
export function checkNotification(notification: WebPushNotification | undefined, label = 'body'): void {
  if (notification && Buffer.byteLength(webPushBody(LONGEST_ID, notification)) > WEBPUSH_MAX_PLAINTEXT_BYTES) {
    throw new HeraldError('INVALID_NOTIFICATION', `${label}/notification makes a push body over ${WEBPUSH_MAX_PLAINTEXT_BYTES} bytes; shorten it.`);
  }
}

/**
 * The send a validated body asks for (the schema guarantees one target and fills ttlSeconds);
 * `producer` is the token's `sub`, kept in the message's record.
 */
export function sendInputOf(body: SendMessageBody, config: RouteDeps['config'], producer = ''): SendMessageInput {
  const { userIds, category, payload, ttlSeconds, replaceKey, notification, urgency } = body;
  const recipients: Recipients = category !== undefined ? { category } : { userIds: userIds ?? [] };
  const webPush = notification ? { webPush: urgency ? { notification, urgency } : { notification } } : {};
  return { recipients, payload, ttlSeconds: ttlSeconds ?? config.MESSAGE_DEFAULT_TTL_SECONDS, record: { producer, replaceKey }, ...webPush };
}
