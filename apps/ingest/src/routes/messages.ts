/**
 * `POST /v1/messages` (Contract): send a message to a list of users or to a category's members,
 * at most once per `Idempotency-Key`, now or at its `sendAt` (scheduler.ts). `GET /v1/messages/{id}/fanout`: a category message's
 * fan-out progress (an addition to the Contract).
 * Auth runs in `onRequest`, before the body is read: a caller without a token learns nothing
 * about the schema, and an unauthenticated body is never parsed. Then the schema refuses every
 * bad input before the handler makes its first Redis write.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Logger } from '@herald/logger';
import { requireScope } from '@herald/http';
import { HeraldError, Scope } from '@herald/types';
import { decodeMessage, loadMessages } from '@herald/redis';
import { sendDepsOf, type RouteDeps } from './deps';
import { BEARER, errorResponses, messageIdParams } from './schemas';
import { schemaErrors } from './schema-errors';
import { checkNotification, checkPayloadDepth, MESSAGE_BODY_RULES, messageBodySchema, sendInputOf, type SendMessageBody } from './message-body';
import { sendMessage, type SendMessageInput } from '../sending/send-message';
import { checkIdempotencyKey, recordedAnswer, runIdempotent, type Answer } from '../sending/idempotent';
import { sendAtOf, sendAtSchema } from './send-at';

/** The body of POST /v1/messages: a batch item's, plus `sendAt`. */
type PostMessageBody = SendMessageBody & { sendAt?: string };

/** Kept here too: tests and callers import it from the route that answers it. */
export { MAX_PAYLOAD_DEPTH } from './message-body';

export function registerMessageRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const log = deps.logger.child({ module: 'messages' });
  app.post<{ Body: PostMessageBody }>(
    '/v1/messages',
    {
      onRequest: requireScope(deps.verifier, Scope.MESSAGES_WRITE),
      schema: {
        summary: 'Send a message',
        description:
          'Stores the message body with its TTL, then appends its id to each recipient\'s offline list ' +
          '(capped at INBOX_CAP, oldest dropped) and notifies their gateways. With `sendAt`, holds it until then ' +
          '(GET /v1/messages/{id} shows its state) and sends it exactly so at that time. Scope `messages:write`.',
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
        body: messageBodySchema(deps.config, { sendAt: sendAtSchema }),
        response: {
          202: {
            description:
              'Accepted. To users: the message is stored and in every recipient\'s offline list. ' +
              'To a category: stored once, in the category\'s log, and delivered by the gateways to the members they hold. ' +
              'Header `Idempotent-Replayed: true` when this is the recorded answer of an earlier request.',
            type: 'object',
            required: ['id'],
            properties: {
              id: { type: 'string', description: 'The message id, unique and stable.' },
              scheduledFor: {
                type: 'string',
                description: 'With sendAt only: when it will be sent (ISO 8601, UTC). It is not sent yet: held until then.',
              },
            },
          },
          ...errorResponses(400, 401, 403, 409, 413, 415),
        },
      },
      schemaErrorFormatter: schemaErrors([...MESSAGE_BODY_RULES, { in: 'body', path: /^\/sendAt$/, code: 'INVALID_SEND_AT' }]),
    },
    async (request, reply) => {
      const { sendAt: sendAtText, ...body } = request.body;
      checkPayloadDepth(body.payload);
      checkNotification(body.notification);
      const key = checkIdempotencyKey(request.headers['idempotency-key']);
      const producer = request.principal?.userId ?? '';
      const input = sendInputOf(body, deps.config, producer);
      const sendAt = sendAtText === undefined ? undefined : sendAtOf(sendAtText, deps.config.SCHEDULE_MAX_AHEAD_SECONDS);
      const idempotency = key === undefined ? undefined : {
        redis: deps.redis,
        producer,
        key,
        body: request.body,
        leaseMs: deps.config.IDEMPOTENCY_LEASE_MS,
        ttlSeconds: deps.config.IDEMPOTENCY_TTL_SECONDS,
      };
      if (sendAt instanceof HeraldError) {
        // A repeat whose sendAt has passed since its first request still gets the first answer.
        const first = idempotency && (await recordedAnswer(idempotency));
        if (first) return replay(deps, reply, first);
        throw sendAt;
      }
      if (idempotency === undefined) return reply.status(202).send(await sendOrSchedule(deps, log, input, sendAt));
      const { answer, replayed } = await runIdempotent(idempotency, (first) => sendOrSchedule(deps, log, input, sendAt, first));
      return replayed ? replay(deps, reply, answer) : reply.status(202).send(answer);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/messages/:id/fanout',
    {
      onRequest: requireScope(deps.verifier, Scope.MESSAGES_WRITE),
      schema: {
        summary: 'Fan-out progress of a category message',
        description:
          'A category message is stored once, in its category\'s log, when it is accepted, and the gateways ' +
          'deliver it to the members they hold: it answers `completed` (progress `done`, counts 0: nothing is ' +
          'written per member) while its body lives. Kept for clients of the fan-out jobs that did this before. ' +
          'Scope `messages:write`.',
        tags: ['messages'],
        security: BEARER,
        params: messageIdParams,
        response: {
          200: fanoutSchema,
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const status = await loggedStatus(deps.redis, request.params.id);
      if (!status) throw new HeraldError('FANOUT_NOT_FOUND');
      return reply.send(status);
    },
  );
}

/** Answer a repeat with its first request's answer. */
function replay(deps: RouteDeps, reply: FastifyReply, answer: Answer): FastifyReply {
  deps.metrics.replayed.inc();
  return reply.status(202).header('idempotent-replayed', 'true').send(answer);
}

/** Send now, or hold until sendAt; `first`: the id and creation time an Idempotency-Key fixed. */
async function sendOrSchedule(
  deps: RouteDeps,
  log: Logger,
  input: SendMessageInput,
  sendAt: number | undefined,
  first?: { id: string; createdAt: number },
): Promise<Answer> {
  if (sendAt !== undefined) {
    const id = first?.id ?? randomUUID();
    await deps.scheduler.schedule(id, input, sendAt);
    log.debug({ id, sendAt }, 'message scheduled');
    return { id, scheduledFor: new Date(sendAt).toISOString() };
  }
  const repeatable = first && { ...first, rememberSeconds: deps.config.IDEMPOTENCY_TTL_SECONDS };
  const sent = await sendMessage(sendDepsOf(deps), { ...input, repeatable });
  log.debug(sent, 'message accepted');
  return { id: sent.id };
}

/** The fan-out progress of a category message, as GET …/fanout answers it. */
export const fanoutSchema = {
  type: 'object',
  properties: {
    messageId: { type: 'string' },
    category: { type: 'string' },
    state: { type: 'string', description: 'completed (the fan-out jobs of earlier versions had waiting, active, delayed and failed too)' },
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
} as const;

/** A category message stored once in its log (category-log.ts): complete as soon as it is accepted. */
async function loggedStatus(redis: RouteDeps['redis'], messageId: string) {
  const [raw] = await loadMessages(redis, [messageId]);
  const message = raw && decodeMessage(raw);
  return message?.category ? categoryFanout(messageId, message.category) : null;
}

/** What GET …/fanout shows for a category message that was sent (and GET /v1/messages/{id} in `fanout`). */
export function categoryFanout(messageId: string, category: string) {
  return {
    messageId,
    category,
    state: 'completed',
    attempts: 0,
    progress: { chunks: 0, delivered: 0, skipped: 0, dropped: 0, done: true },
    failedReason: null,
    finishedAt: null,
  };
}
