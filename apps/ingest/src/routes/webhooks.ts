/**
 * `POST`, `GET /v1/webhooks` and `DELETE /v1/webhooks/{id}` (issue 18, docs/WEBHOOKS.md; scope
 * `webhooks:write`, an operator's): a producer's webhook endpoints. An endpoint gets the matching
 * events of the whole deployment (its kinds, and its category when it names one). The URL is
 * checked against the SSRF rules (webhooks/url-guard.ts) before anything is written; the secret is
 * shown once, in the POST's answer. Owner: the token's `sub`; another producer's endpoint is 404.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { requireScope } from '@herald/http';
import { addWebhook, deleteWebhook, listWebhooks, type WebhookEndpoint } from '@herald/redis';
import { HeraldError, MESSAGE_ID_PATTERN, Scope, WEBHOOK_EVENT_KINDS, type EventKind } from '@herald/types';
import { checkWebhookUrl } from '../webhooks/url-guard';
import type { RouteDeps } from './deps';
import { BEARER, categorySchema, errorResponses } from './schemas';
import { schemaErrors } from './schema-errors';

/** Longest URL accepted. */
export const MAX_WEBHOOK_URL_LENGTH = 2048;
/** Random bytes of a signing secret (Standard Webhooks: 24 to 64). */
const SECRET_BYTES = 32;

interface CreateBody {
  url: string;
  kinds: EventKind[];
  category?: string;
}

const kindsSchema = {
  type: 'array',
  minItems: 1,
  maxItems: WEBHOOK_EVENT_KINDS.length,
  uniqueItems: true,
  items: { type: 'string', enum: [...WEBHOOK_EVENT_KINDS] },
  description: 'The event kinds to receive.',
} as const;

const endpointSchema = {
  type: 'object',
  required: ['id', 'url', 'kinds', 'category', 'createdAt', 'state', 'disabledAt', 'disabledReason', 'lastFailureAt', 'lastFailure', 'deadLetters'],
  properties: {
    id: { type: 'string' },
    url: { type: 'string' },
    kinds: kindsSchema,
    category: { type: ['string', 'null'], description: 'Only events of this category; null: every category and none.' },
    createdAt: { type: 'string', format: 'date-time' },
    state: { type: 'string', enum: ['active', 'disabled'], description: 'disabled: a batch failed for WEBHOOK_RETRY_PERIOD_MS; nothing is sent any more.' },
    disabledAt: { type: ['string', 'null'], format: 'date-time' },
    disabledReason: { type: ['string', 'null'], description: 'Why it was disabled (the last failure of the batch that was dead-lettered).' },
    lastFailureAt: { type: ['string', 'null'], format: 'date-time' },
    lastFailure: { type: ['string', 'null'], description: 'What the last failed request got (status and the start of the answer, a timeout, a refused address).' },
    deadLetters: { type: 'integer', description: 'Batches dead-lettered so far (kept in Redis, docs/WEBHOOKS.md).' },
  },
} as const;

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: MESSAGE_ID_PATTERN.source, description: 'The endpoint id (POST answered it).' } },
} as const;

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

function view(e: WebhookEndpoint) {
  return {
    id: e.id,
    url: e.url,
    kinds: e.kinds,
    category: e.category,
    createdAt: new Date(e.createdAt).toISOString(),
    state: e.state,
    disabledAt: iso(e.disabledAt),
    disabledReason: e.disabledReason ?? null,
    lastFailureAt: iso(e.lastFailureAt),
    lastFailure: e.lastFailure ?? null,
    deadLetters: e.deadLetters,
  };
}

export function registerWebhookRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const log = deps.logger.child({ module: 'webhooks' });
  const auth = requireScope(deps.verifier, Scope.WEBHOOKS_WRITE);
  const allowed = deps.config.WEBHOOK_ALLOWED_HOSTS ?? [];

  app.post<{ Body: CreateBody }>(
    '/v1/webhooks',
    {
      onRequest: auth,
      schema: {
        summary: 'Register a webhook endpoint',
        description:
          'Herald posts the matching events of the whole deployment to `url`, in batches, signed per Standard Webhooks ' +
          '(`webhook-id`, `webhook-timestamp`, `webhook-signature`) with the secret answered here, shown only this once. ' +
          'The URL must be https and its host resolve to public addresses only (loopback, private, link-local, CGNAT, ' +
          'multicast and unspecified are refused), unless its host:port is in WEBHOOK_ALLOWED_HOSTS. ' +
          `At most WEBHOOK_MAX_PER_PRODUCER endpoints per producer. Scope \`${Scope.WEBHOOKS_WRITE}\`.`,
        tags: ['webhooks'],
        security: BEARER,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['url', 'kinds'],
          properties: {
            url: { type: 'string', minLength: 1, maxLength: MAX_WEBHOOK_URL_LENGTH, description: 'Where to post: https://…' },
            kinds: kindsSchema,
            category: { ...categorySchema, description: 'Only events of this category (optional).' },
          },
        },
        response: {
          201: {
            description: 'Registered.',
            type: 'object',
            required: ['id', 'secret'],
            properties: {
              id: { type: 'string', description: 'The endpoint id, for DELETE.' },
              secret: { type: 'string', description: 'whsec_<base64 of 32 random bytes>: verifies the signatures; shown only now.' },
            },
          },
          ...errorResponses(400, 401, 403, 409, 413, 415),
        },
      },
      schemaErrorFormatter: schemaErrors([
        { in: 'body', path: /^\/kinds/, code: 'INVALID_WEBHOOK_KINDS' },
        { in: 'body', path: /^\/category$/, code: 'INVALID_CATEGORY' },
        { in: 'body', path: /^\/url$/, code: 'INVALID_WEBHOOK_URL' },
      ]),
    },
    async (request, reply) => {
      const owner = request.principal?.userId ?? '';
      const { url, kinds, category } = request.body;
      await checkWebhookUrl(url, allowed);
      const id = randomUUID();
      const secret = `whsec_${randomBytes(SECRET_BYTES).toString('base64')}`;
      const endpoint = { id, owner, url, kinds, category: category ?? null, secret, createdAt: Date.now() };
      if (!(await addWebhook(deps.redis, endpoint, deps.config.WEBHOOK_MAX_PER_PRODUCER))) {
        throw new HeraldError('WEBHOOK_LIMIT_REACHED', limitMessage(deps.config.WEBHOOK_MAX_PER_PRODUCER));
      }
      log.info({ webhookId: id, owner, kinds, category: endpoint.category }, 'webhook endpoint registered');
      return reply.status(201).send({ id, secret });
    },
  );

  app.get(
    '/v1/webhooks',
    {
      onRequest: auth,
      schema: {
        summary: "List the caller's webhook endpoints",
        description: `The endpoints the token's sub registered, oldest first, with their status; never the secret. Scope \`${Scope.WEBHOOKS_WRITE}\`.`,
        tags: ['webhooks'],
        security: BEARER,
        response: {
          200: { description: 'The endpoints.', type: 'object', required: ['webhooks'], properties: { webhooks: { type: 'array', items: endpointSchema } } },
          ...errorResponses(401, 403),
        },
      },
    },
    async (request) => ({ webhooks: (await listWebhooks(deps.redis, request.principal?.userId ?? '')).map(view) }),
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/webhooks/:id',
    {
      onRequest: auth,
      schema: {
        summary: 'Delete a webhook endpoint',
        description:
          'Removes one of the caller\'s endpoints with its status and dead letters; batches already queued for it are dropped. ' +
          `Another producer's endpoint is 404, as an unknown id. Scope \`${Scope.WEBHOOKS_WRITE}\`.`,
        tags: ['webhooks'],
        security: BEARER,
        params: idParams,
        response: {
          204: { description: 'Deleted.', type: 'null' },
          ...errorResponses(400, 401, 403, 404),
        },
      },
      schemaErrorFormatter: schemaErrors([{ in: 'params', path: /.*/, code: 'WEBHOOK_NOT_FOUND' }]),
    },
    async (request, reply) => {
      const owner = request.principal?.userId ?? '';
      if (!(await deleteWebhook(deps.redis, owner, request.params.id))) throw new HeraldError('WEBHOOK_NOT_FOUND');
      log.info({ webhookId: request.params.id, owner }, 'webhook endpoint deleted');
      return reply.status(204).send();
    },
  );
}

function limitMessage(max: number): string {
  return `This producer has ${max} webhook endpoints, as many as WEBHOOK_MAX_PER_PRODUCER allows; delete one first.`;
}
