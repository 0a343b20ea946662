/**
 * JSON-schema pieces shared by ingest's routes. The identifier patterns come from
 * `@herald/types`, so the schema refuses exactly what `isUserId`/`isCategory` refuse, and /docs
 * shows the same rule the code applies.
 */
import { CATEGORY_PATTERN, ErrorCodes, MESSAGE_ID_PATTERN, REPLACE_KEY_PATTERN, USER_ID_PATTERN } from '@herald/types';
import { ERROR_BODY_SCHEMA } from '@herald/http';

export const userIdSchema = {
  type: 'string',
  pattern: USER_ID_PATTERN.source,
  description: ErrorCodes.INVALID_USER_ID.message,
} as const;

export const categorySchema = {
  type: 'string',
  pattern: CATEGORY_PATTERN.source,
  description: ErrorCodes.INVALID_CATEGORY.message,
} as const;

/** The path parameters of /v1/messages/{id}…: a message id. */
export const messageIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: MESSAGE_ID_PATTERN.source, description: 'The message id.' } },
} as const;

/** A message's replace key: a category name's pattern (REPLACE_KEY_PATTERN is CATEGORY_PATTERN). */
export const replaceKeySchema = {
  type: 'string',
  pattern: REPLACE_KEY_PATTERN.source,
  description: ErrorCodes.INVALID_REPLACE_KEY.message,
} as const;

/** The Contract's error body. */
const errorBodySchema = ERROR_BODY_SCHEMA;

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400:
    'Bad input (code INVALID_BODY, INVALID_QUERY, INVALID_USER_ID, INVALID_CATEGORY, INVALID_REPLACE_KEY, INVALID_IDEMPOTENCY_KEY, ' +
    'IDEMPOTENCY_KEY_REUSED, INVALID_SEND_AT, INVALID_WEBHOOK_URL, WEBHOOK_ADDRESS_FORBIDDEN, INVALID_WEBHOOK_KINDS or BAD_REQUEST); nothing was written.',
  401: 'No valid bearer token (UNAUTHORIZED).',
  403: 'The token lacks the scope this route needs (FORBIDDEN), or the message is another producer\'s (NOT_MESSAGE_OWNER).',
  404: 'Nothing is known by that id (FANOUT_NOT_FOUND, MESSAGE_NOT_FOUND, WEBHOOK_NOT_FOUND).',
  409:
    'A request with the same Idempotency-Key is still running (IDEMPOTENCY_KEY_IN_USE); retry with the same key. ' +
    'Or the message is not in a state that allows the change (MESSAGE_STATE_CONFLICT), or the producer has as many ' +
    'webhook endpoints as allowed (WEBHOOK_LIMIT_REACHED).',
  413: 'The body is over MAX_BODY_BYTES (PAYLOAD_TOO_LARGE).',
  415: 'The body is not application/json (UNSUPPORTED_MEDIA_TYPE).',
};

/** Response schemas for the error statuses a route can answer, for /docs. */
export function errorResponses(...statuses: Array<keyof typeof ERROR_DESCRIPTIONS>) {
  return Object.fromEntries(
    statuses.map((status) => [status, { ...errorBodySchema, description: ERROR_DESCRIPTIONS[status] }]),
  );
}

/** Every ingest API route takes `Authorization: Bearer <jwt>` (see the `bearer` scheme). */
export const BEARER = [{ bearer: [] }];
