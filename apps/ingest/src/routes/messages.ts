/**
 * `POST /v1/messages` (Contract): send a message to a list of users or to a category's members,
 * at most once per `Idempotency-Key`. `GET /v1/messages/{id}/fanout`: a category message's
 * fan-out progress (an addition to the Contract).
 * Auth runs in `onRequest`, before the body is read: a caller without a token learns nothing
 * about the schema, and an unauthenticated body is never parsed. Then the schema refuses every
 * bad input before the handler makes its first Redis write.
 */
import type { FastifyInstance } from 'fastify';
import { requireScope } from '@herald/http';
import { HeraldError, Scope } from '@herald/types';
import type { RouteDeps } from './deps';
import { BEARER, categorySchema, errorResponses, userIdSchema } from './schemas';
import { schemaErrors } from './schema-errors';
import { sendMessage, type Recipients, type SendMessageInput } from '../send-message';
import { checkIdempotencyKey, runIdempotent } from '../idempotent';
import { fanoutStatus } from '../fanout/fanout-queue';

interface SendMessageBody {
  userIds?: string[];
  category?: string;
  payload: unknown;
  ttlSeconds?: number;
}

const EXACTLY_ONE_TARGET = 'Give exactly one of "userIds" or "category".';

/**
 * Deepest nesting of arrays and objects a payload may have. Storing a message runs
 * JSON.stringify, which recurses and overflows the stack a few thousand levels down (a 10 KB
 * body), so a deeper payload was a 500; this bound is far from that and is the same everywhere.
 */
export const MAX_PAYLOAD_DEPTH = 100;

/** Whether `value` nests arrays/objects deeper than `max`, walked level by level (no recursion). */
function nestedDeeperThan(value: unknown, max: number): boolean {
  let level: unknown[] = [value];
  for (let depth = 0; ; depth++) {
    const containers = level.filter((v): v is object => typeof v === 'object' && v !== null);
    if (containers.length === 0) return false;
    if (depth >= max) return true;
    level = containers.flatMap((c) => Object.values(c));
  }
}

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
        headers: {
          type: 'object',
          properties: {
            'idempotency-key': {
              type: 'string',
              description:
                `Optional, 1-255 visible ASCII characters. The same key (per producer) and body within ` +
                `${deps.config.IDEMPOTENCY_TTL_SECONDS} s answer the first result and write nothing again; ` +
                'the same key with another body is refused (IDEMPOTENCY_KEY_REUSED); the order of object keys ' +
                'does not count, the order of array items does. A repeat after a failed attempt delivers only to ' +
                'the users that attempt did not reach.',
            },
          },
        },
        body: bodySchema(deps.config),
        response: {
          202: {
            description:
              'Accepted. To users: the message is stored and in every recipient\'s offline list. ' +
              'To a category: stored, and its fan-out job is queued (see GET /v1/messages/{id}/fanout). ' +
              'Header `Idempotent-Replayed: true` when this is the recorded answer of an earlier request.',
            type: 'object',
            required: ['id'],
            properties: { id: { type: 'string', description: 'The message id, unique and stable.' } },
          },
          ...errorResponses(400, 401, 403, 409, 413, 415),
        },
      },
      schemaErrorFormatter: schemaErrors([
        { in: 'body', path: /^$/, keyword: 'oneOf', code: 'INVALID_BODY', message: EXACTLY_ONE_TARGET },
        { in: 'body', path: /^\/userIds\/\d+$/, code: 'INVALID_USER_ID' },
        { in: 'body', path: /^\/category$/, code: 'INVALID_CATEGORY' },
      ]),
    },
    async (request, reply) => {
      if (nestedDeeperThan(request.body.payload, MAX_PAYLOAD_DEPTH)) {
        throw new HeraldError('INVALID_BODY', `body/payload is nested more than ${MAX_PAYLOAD_DEPTH} levels deep; flatten it.`);
      }
      const key = checkIdempotencyKey(request.headers['idempotency-key']);
      const { userIds, category, payload, ttlSeconds } = request.body;
      // The schema guarantees exactly one target and fills the ttlSeconds default.
      const recipients: Recipients = category !== undefined ? { category } : { userIds: userIds ?? [] };
      const input: SendMessageInput = {
        recipients,
        payload,
        ttlSeconds: ttlSeconds ?? deps.config.MESSAGE_DEFAULT_TTL_SECONDS,
      };
      const sendDeps = {
        redis: deps.redis,
        fanout: deps.fanout,
        inboxCap: deps.config.INBOX_CAP,
        inboxTtlSeconds: deps.config.MESSAGE_MAX_TTL_SECONDS,
        metrics: deps.metrics,
      };
      if (key === undefined) {
        const sent = await sendMessage(sendDeps, input);
        log.debug(sent, 'message accepted');
        return reply.status(202).send({ id: sent.id });
      }
      const { answer, replayed } = await runIdempotent(
        {
          redis: deps.redis,
          producer: request.principal?.userId ?? '',
          key,
          body: request.body,
          leaseMs: deps.config.IDEMPOTENCY_LEASE_MS,
          ttlSeconds: deps.config.IDEMPOTENCY_TTL_SECONDS,
        },
        async (first) => {
          const repeatable = { ...first, rememberSeconds: deps.config.IDEMPOTENCY_TTL_SECONDS };
          const sent = await sendMessage(sendDeps, { ...input, repeatable });
          log.debug(sent, 'message accepted');
          return { id: sent.id };
        },
      );
      if (replayed) {
        deps.metrics.replayed.inc();
        void reply.header('idempotent-replayed', 'true');
      }
      return reply.status(202).send(answer);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/messages/:id/fanout',
    {
      onRequest: requireScope(deps.verifier, Scope.MESSAGES_WRITE),
      schema: {
        summary: 'Fan-out progress of a category message',
        description:
          'State of the BullMQ job that writes a category message into its members\' offline lists, ' +
          'and how far it got. Kept a day after it completes. Scope `messages:write`.',
        tags: ['messages'],
        security: BEARER,
        params: {
          type: 'object',
          required: ['id'],
          properties: { id: { type: 'string', pattern: '^[A-Za-z0-9-]{1,64}$', description: 'The message id.' } },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              messageId: { type: 'string' },
              category: { type: 'string' },
              state: { type: 'string', description: 'waiting, active, delayed (retrying), completed or failed' },
              attempts: { type: 'integer' },
              progress: {
                type: 'object',
                properties: {
                  chunks: { type: 'integer' },
                  delivered: { type: 'integer', description: 'Members whose offline list got the id' },
                  skipped: { type: 'integer', description: 'Members that already had it (retries)' },
                  dropped: { type: 'integer', description: 'Old ids dropped by inbox caps' },
                  done: { type: 'boolean' },
                },
              },
              failedReason: { type: ['string', 'null'] },
              finishedAt: { type: ['string', 'null'] },
            },
          },
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const status = await fanoutStatus(deps.fanout, request.params.id);
      if (!status) throw new HeraldError('FANOUT_NOT_FOUND');
      return reply.send(status);
    },
  );
}
