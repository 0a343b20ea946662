/**
 * JSON schemas of the funnel and lifecycle routes (funnel.ts), in the analyst API's OpenAPI
 * document beside the exposure routes' (exposure-schemas.ts).
 */
import { CATEGORY_PATTERN } from '@herald/types';
import { analystRoute, errors, strictQuery } from './exposure-schemas';

export interface FunnelQuerystring {
  messageId?: string;
  category?: string;
  from?: string;
  to?: string;
  groupBy?: 'category' | 'day';
}

export interface LifecycleQuerystring {
  category?: string;
  from?: string;
  to?: string;
}

const messageWindow = {
  from: { type: 'string', format: 'date-time', description: 'Only messages whose time (sent, else scheduled for) is at or after this (ISO-8601 with a time zone).' },
  to: { type: 'string', format: 'date-time', description: 'Only messages whose time is before this.' },
} as const;
const category = { type: 'string', pattern: CATEGORY_PATTERN.source, description: 'Only messages to this category.' } as const;

const percentiles = {
  type: 'object',
  description: 'Seconds from the message\'s createdAt; null without data.',
  properties: { p50: { type: ['number', 'null'] }, p90: { type: ['number', 'null'] } },
  required: ['p50', 'p90'],
} as const;

const COUNTS = ['messages', 'sent', 'delivered', 'opened', 'clicked', 'dismissed', 'expired', 'dropped', 'pending', 'nudged'] as const;
const funnelProperties = {
  ...Object.fromEntries(COUNTS.map((name) => [name, { type: 'integer' }])),
  timeToDelivery: percentiles,
  timeToOpen: percentiles,
};
const funnelSchema = {
  type: 'object',
  description:
    'sent: recipients; delivered: distinct users with an exposure; opened/clicked/dismissed: distinct users; expired/dropped: users ' +
    'who lost it unread (not delivered on any device); pending = sent − delivered − expired − dropped, never negative; ' +
    'nudged: users a Web Push reached while offline (beside the steps, not one of them).',
  properties: funnelProperties,
  required: [...COUNTS, 'timeToDelivery', 'timeToOpen'],
} as const;

export const funnelRouteSchema = {
  summary: 'The funnel of a message, a category or a window: sent, delivered, opened, clicked, dismissed, expired, dropped, pending',
  description:
    'Over the messages whose time is in [from, to) (sent: their createdAt; not sent: when they are scheduled for), ' +
    'narrowed to one messageId and/or category, and everything that happened to them whenever it happened. ' +
    '`groupBy` adds the same per category (key null: messages to users directly) or per UTC day of the message (YYYY-MM-DD).',
  ...analystRoute,
  querystring: {
    ...strictQuery,
    properties: {
      messageId: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[^\\u0000]+$' },
      category,
      ...messageWindow,
      groupBy: { type: 'string', enum: ['category', 'day'] },
    },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        totals: funnelSchema,
        groupBy: { type: ['string', 'null'] },
        items: { type: 'array', items: { ...funnelSchema, properties: { key: { type: ['string', 'null'] }, ...funnelProperties }, required: ['key', ...funnelSchema.required] } },
      },
      required: ['totals', 'groupBy'],
    },
    ...errors,
  },
} as const;

const LIFECYCLE = ['messages', 'sent', 'scheduled', 'updated', 'recalled', 'replaced', 'replacing', 'recipients'] as const;

export const lifecycleRouteSchema = {
  summary: 'Lifecycle counts of the messages in a window: sent, scheduled, updated, recalled, replaced',
  description:
    'messages: in the window, whatever their state; scheduled: asked for a later time; updated: changed after send; replaced: pending copies ' +
    'of older messages these replaced (replace keys); replacing: messages that replaced at least one; recipients: of the sent ones.',
  ...analystRoute,
  querystring: { ...strictQuery, properties: { category, ...messageWindow } },
  response: {
    200: { type: 'object', properties: Object.fromEntries(LIFECYCLE.map((name) => [name, { type: 'integer' }])), required: [...LIFECYCLE] },
    ...errors,
  },
} as const;
