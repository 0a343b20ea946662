/**
 * `POST /v1/messages/batch`: up to MAX_BATCH_MESSAGES messages in one request, each item the body
 * of `POST /v1/messages` plus an optional `idempotencyKey`, each answered on its own:
 * `{"results":[{"id"} | {"error":{code,message}}]}`, in the items' order, status 200 whenever
 * the batch was processed (item errors included). A body that is not a batch (not an object with
 * a `messages` array of 1 to MAX_BATCH_MESSAGES items, over MAX_BATCH_BODY_BYTES, naming more
 * than MAX_RECIPIENTS_LIMIT user ids in all) is refused whole, and nothing is sent.
 * The route schema checks only the envelope; each item is validated against the single send's
 * schema by the same validator compiler, so an item is refused exactly when it would be alone.
 */
import type { FastifyInstance, FastifySchemaValidationError } from 'fastify';
import { MAX_RECIPIENTS_LIMIT } from '@herald/config';
import { requireScope } from '@herald/http';
import { HeraldError, MAX_BATCH_MESSAGES, Scope } from '@herald/types';
import { sendDepsOf, type RouteDeps } from './deps';
import { BEARER, errorResponses } from './schemas';
import { schemaError, schemaErrors, type SchemaErrorRule } from './schema-errors';
import { checkNotification, checkPayloadDepth, MESSAGE_BODY_RULES, messageBodySchema, sendInputOf, type SendMessageBody } from './message-body';
import { IDEMPOTENCY_KEY_PATTERN } from '../sending/idempotent';
import { sendMessages, type BatchItem } from '../sending/send-batch';

interface BatchBody {
  messages: unknown[];
}

type ItemBody = SendMessageBody & { idempotencyKey?: string };
type ItemValidator = ((value: unknown) => boolean) & { errors?: FastifySchemaValidationError[] | null };

const ITEM_RULES: SchemaErrorRule[] = [
  ...MESSAGE_BODY_RULES,
  { in: 'body', path: /^\/idempotencyKey$/, code: 'INVALID_IDEMPOTENCY_KEY' },
];

function batchSchema() {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['messages'],
    properties: {
      messages: {
        type: 'array',
        minItems: 1,
        maxItems: MAX_BATCH_MESSAGES,
        description:
          `1 to ${MAX_BATCH_MESSAGES} messages, each the body of POST /v1/messages (same schema, same limits, ` +
          'MAX_BODY_BYTES included) plus an optional `idempotencyKey` (the Idempotency-Key header\'s rules, ' +
          `per item). All of them together name at most ${MAX_RECIPIENTS_LIMIT} user ids.`,
        items: {},
      },
    },
  };
}

const resultsSchema = {
  type: 'object',
  required: ['results'],
  properties: {
    results: {
      type: 'array',
      description: 'One per item, in the items\' order: `{"id"}` (accepted, as a 202 alone) or `{"error":{code,message}}`.',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string', description: 'The message id, unique and stable.' },
          error: {
            type: 'object',
            properties: { code: { type: 'string' }, message: { type: 'string' } },
          },
        },
      },
    },
  },
};

export function registerBatchRoute(app: FastifyInstance, deps: RouteDeps): void {
  const { config } = deps;
  const log = deps.logger.child({ module: 'batch' });
  const itemSchema = messageBodySchema(config, {
    idempotencyKey: {
      type: 'string',
      pattern: IDEMPOTENCY_KEY_PATTERN.source,
      description: 'As the Idempotency-Key header of POST /v1/messages.',
    },
  });

  /** One item: the send it asks for, or why it is refused (as POST /v1/messages would refuse it). */
  function prepare(raw: unknown, index: number, validate: ItemValidator, oversized: boolean, producer: string): BatchItem | HeraldError {
    const label = `messages/${index}`;
    if (!validate(raw)) return schemaError(ITEM_RULES, validate.errors ?? [], 'body', label);
    const { idempotencyKey, ...body } = raw as ItemBody;
    try {
      checkPayloadDepth(body.payload, label);
      checkNotification(body.notification, label);
    } catch (err) {
      return err as HeraldError;
    }
    // Measured only when the whole body is larger (after the depth check: JSON.stringify recurses).
    if (oversized && Buffer.byteLength(JSON.stringify(raw)) > config.MAX_BODY_BYTES) {
      return new HeraldError('PAYLOAD_TOO_LARGE', `${label} is over MAX_BODY_BYTES (${config.MAX_BODY_BYTES} bytes).`);
    }
    const input = sendInputOf(body, config, producer);
    return { input, idempotency: idempotencyKey === undefined ? undefined : { key: idempotencyKey, body } };
  }

  app.post<{ Body: BatchBody }>(
    '/v1/messages/batch',
    {
      onRequest: requireScope(deps.verifier, Scope.MESSAGES_WRITE),
      bodyLimit: config.MAX_BATCH_BODY_BYTES,
      schema: {
        summary: 'Send many messages',
        description:
          'Each item is sent as POST /v1/messages would send it and answered on its own, in order; an ' +
          'invalid item gets its error and the others are sent. Messages to the same user reach the ' +
          'user in the items\' order (category messages are fanned out by jobs, as alone). One Redis ' +
          `round trip per chunk of messages. Body at most MAX_BATCH_BODY_BYTES (${config.MAX_BATCH_BODY_BYTES}). ` +
          'Scope `messages:write`.',
        tags: ['messages'],
        security: BEARER,
        body: batchSchema(),
        response: {
          200: { ...resultsSchema, description: 'The batch was processed; see each result.' },
          ...errorResponses(400, 401, 403, 413, 415),
        },
      },
      schemaErrorFormatter: schemaErrors([]),
    },
    async (request, reply) => {
      const { messages } = request.body;
      const validate = request.compileValidationSchema(itemSchema, 'body') as ItemValidator;
      const oversized = Number(request.headers['content-length'] ?? Infinity) > config.MAX_BODY_BYTES;
      const producer = request.principal?.userId ?? '';
      const items = messages.map((raw, i) => prepare(raw, i, validate, oversized, producer));
      const recipients = items.reduce(
        (n, item) => n + (item instanceof HeraldError || !('userIds' in item.input.recipients) ? 0 : item.input.recipients.userIds.length),
        0,
      );
      if (recipients > MAX_RECIPIENTS_LIMIT) {
        throw new HeraldError('INVALID_BODY', `The batch names ${recipients} user ids in all; at most ${MAX_RECIPIENTS_LIMIT}.`);
      }
      const results = await sendMessages(
        {
          ...sendDepsOf(deps),
          logger: log,
          producer: request.principal?.userId ?? '',
          leaseMs: config.IDEMPOTENCY_LEASE_MS,
          idempotencyTtlSeconds: config.IDEMPOTENCY_TTL_SECONDS,
        },
        items,
      );
      return reply.status(200).send({ results });
    },
  );
}
