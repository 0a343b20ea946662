/**
 * `POST /v1/messages` (Contract): send a message to a list of users or to a category's members.
 * Auth runs in `onRequest`, before the body is read: a caller without a token learns nothing
 * about the schema, and an unauthenticated body is never parsed. Then the schema refuses every
 * bad input before the handler makes its first Redis write.
 */
import type { FastifyInstance } from 'fastify';
import { requireScope } from '@herald/http';
import { Scope } from '@herald/types';
import type { RouteDeps } from './deps';
import { BEARER, categorySchema, errorResponses, userIdSchema } from './schemas';
import { schemaErrors } from './schema-errors';
import { sendMessage, type Recipients } from '../send-message';

interface SendMessageBody {
  userIds?: string[];
  category?: string;
  payload: unknown;
  ttlSeconds?: number;
}

const EXACTLY_ONE_TARGET = 'Give exactly one of "userIds" or "category".';

function bodySchema(config: RouteDeps['config']) {
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
      payload: { description: 'Any JSON value (null included); delivered to clients as it is.' },
      ttlSeconds: {
        type: 'integer',
        minimum: 1,
        maximum: config.MESSAGE_MAX_TTL_SECONDS,
        default: config.MESSAGE_DEFAULT_TTL_SECONDS,
        description: 'Seconds until the message expires and is never delivered again.',
      },
    },
    oneOf: [{ required: ['userIds'] }, { required: ['category'] }],
  };
}

export function registerMessageRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const log = deps.logger.child({ module: 'messages' });
  app.post<{ Body: SendMessageBody }>(
    '/v1/messages',
    {
      onRequest: requireScope(deps.verifier, Scope.MESSAGES_WRITE),
      schema: {
        summary: 'Send a message',
        description:
          'Stores the message body with its TTL, then appends its id to each recipient\'s offline list ' +
          '(capped at INBOX_CAP, oldest dropped) and notifies their gateways. Scope `messages:write`.',
        tags: ['messages'],
        security: BEARER,
        body: bodySchema(deps.config),
        response: {
          202: {
            description: 'Accepted: the message is stored and in every recipient\'s offline list.',
            type: 'object',
            required: ['id'],
            properties: { id: { type: 'string', description: 'The message id, unique and stable.' } },
          },
          ...errorResponses(400, 401, 403, 413, 415),
        },
      },
      schemaErrorFormatter: schemaErrors([
        { in: 'body', path: /^$/, keyword: 'oneOf', code: 'INVALID_BODY', message: EXACTLY_ONE_TARGET },
        { in: 'body', path: /^\/userIds\/\d+$/, code: 'INVALID_USER_ID' },
        { in: 'body', path: /^\/category$/, code: 'INVALID_CATEGORY' },
      ]),
    },
    async (request, reply) => {
      const { userIds, category, payload, ttlSeconds } = request.body;
      // The schema guarantees exactly one target and fills the ttlSeconds default.
      const recipients: Recipients = category !== undefined ? { category } : { userIds: userIds ?? [] };
      const sent = await sendMessage(
        { redis: deps.redis, inboxCap: deps.config.INBOX_CAP, metrics: deps.metrics },
        { recipients, payload, ttlSeconds: ttlSeconds ?? deps.config.MESSAGE_DEFAULT_TTL_SECONDS },
      );
      log.debug(sent, 'message accepted');
      return reply.status(202).send({ id: sent.id });
    },
  );
}
