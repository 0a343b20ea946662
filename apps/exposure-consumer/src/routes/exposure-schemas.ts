/**
 * JSON schemas of the analyst API: Fastify validates requests with them (a bad value is a 400
 * INVALID_QUERY before any SQL runs), serialises responses with them, and /docs shows them.
 */
import { ERROR_BODY_SCHEMA } from '@herald/http';
import { CATEGORY_PATTERN, USER_ID_PATTERN } from '@herald/types';

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;
export const DEFAULT_STATS_LIMIT = 1000;
export const MAX_STATS_LIMIT = 10_000;

const dateTime = (description: string) => ({ type: 'string', format: 'date-time', description }) as const;
const window = {
  from: dateTime('Only exposures delivered at or after this time (ISO-8601 with a time zone).'),
  to: dateTime('Only exposures delivered before this time (ISO-8601 with a time zone).'),
} as const;

export interface ExposuresQuery {
  messageId?: string;
  userId?: string;
  category?: string;
  from?: string;
  to?: string;
  limit: number;
  cursor?: string;
}

export interface StatsQuerystring {
  groupBy: 'message' | 'category' | 'hour';
  from?: string;
  to?: string;
  limit: number;
}

const errorBody = { ...ERROR_BODY_SCHEMA, description: 'The Contract error body.' } as const;

export const errors = {
  400: errorBody,
  401: errorBody,
  403: errorBody,
  503: {
    ...errorBody,
    description: 'QUERY_TIMEOUT: the query ran past CONSUMER_READ_STATEMENT_TIMEOUT_MS; ANALYTICS_BUSY: every analyst connection was busy.',
  },
} as const;

/** What both routes share: their tag, bearer auth, and a query string without unknown keys. */
export const analystRoute = { tags: ['exposures'], security: [{ bearer: [] }] } as const;
export const strictQuery = { type: 'object', additionalProperties: false } as const;

export const exposureEventSchema = {
  type: 'object',
  description: 'An exposure event (Contract): one message pushed to one session.',
  properties: {
    eventId: { type: 'string' },
    messageId: { type: 'string' },
    userId: { type: 'string' },
    category: { type: ['string', 'null'] },
    sessionId: { type: 'string' },
    gatewayId: { type: 'string' },
    deliveredAt: { type: 'string', format: 'date-time' },
    via: { type: 'string', enum: ['offline', 'live'] },
  },
  required: ['eventId', 'messageId', 'userId', 'category', 'sessionId', 'gatewayId', 'deliveredAt', 'via'],
} as const;

export const listExposuresSchema = {
  summary: 'Exposure events, filtered, oldest first',
  description:
    'Ordered by (deliveredAt, eventId). Pass `nextCursor` back as `cursor` for the next page; it is null on the last page.',
  ...analystRoute,
  querystring: {
    ...strictQuery,
    properties: {
      // No NUL: Postgres text cannot hold it, so it would fail the query (a 500) instead of matching nothing.
      messageId: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[^\\u0000]+$' },
      userId: { type: 'string', pattern: USER_ID_PATTERN.source },
      category: { type: 'string', pattern: CATEGORY_PATTERN.source },
      ...window,
      limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_LIMIT, default: DEFAULT_PAGE_LIMIT },
      cursor: { type: 'string', minLength: 1, maxLength: 1024, description: 'The nextCursor of the previous page.' },
    },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        items: { type: 'array', items: exposureEventSchema },
        nextCursor: { type: ['string', 'null'] },
      },
      required: ['items', 'nextCursor'],
    },
    ...errors,
  },
} as const;

export const exposureStatsSchema = {
  summary: 'Exposures and distinct users per message, category or hour',
  description:
    '`message` and `category` groups come most exposed first (the category key is null for messages sent to users ' +
    'directly); `hour` groups come in time order, keyed by the UTC hour as ISO-8601. At most `limit` groups.',
  ...analystRoute,
  querystring: {
    ...strictQuery,
    properties: {
      groupBy: { type: 'string', enum: ['message', 'category', 'hour'] },
      ...window,
      limit: { type: 'integer', minimum: 1, maximum: MAX_STATS_LIMIT, default: DEFAULT_STATS_LIMIT },
    },
    required: ['groupBy'],
  },
  response: {
    200: {
      type: 'object',
      properties: {
        groupBy: { type: 'string' },
        items: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              key: { type: ['string', 'null'] },
              exposures: { type: 'integer' },
              users: { type: 'integer' },
            },
            required: ['key', 'exposures', 'users'],
          },
        },
      },
      required: ['groupBy', 'items'],
    },
    ...errors,
  },
} as const;
