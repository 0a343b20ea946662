/**
 * `GET /v1/messages/{id}` (issue 17): what became of a message, from its record (message-record.ts
 * in libs/redis): scheduled, sent or recalled, its times and its version, and for a category
 * message the fan-out progress GET …/fanout shows. Only its producer or an admin may read it
 * (message-owner.ts).
 */
import type { FastifyInstance } from 'fastify';
import { requireScope } from '@herald/http';
import { readRecord, type MessageRecord } from '@herald/redis';
import { Scope } from '@herald/types';
import { checkOwner } from '../message-owner';
import type { RouteDeps } from './deps';
import { categoryFanout, fanoutSchema } from './messages';
import { BEARER, errorResponses, messageIdParams } from './schemas';

/** The states a producer sees: `sending` (a scheduled message's job under way) shows as scheduled. */
export type PublicState = 'scheduled' | 'sent' | 'recalled';

/** A record's state as producers see it. */
export const publicState = (state: MessageRecord['state']): PublicState => (state === 'sending' ? 'scheduled' : state);

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The answer for a record (exported for the lead's PATCH/DELETE, which answer the same shape). */
export function messageStatus(record: MessageRecord) {
  const state = publicState(record.state);
  // Until it is sent, a message has no creation or expiry time a client would see.
  const sent = state !== 'scheduled' && record.expiresAt !== null;
  return {
    id: record.id,
    state,
    category: record.category,
    recipients: record.userIds.length,
    createdAt: sent ? iso(record.createdAt) : null,
    expiresAt: sent ? iso(record.expiresAt) : null,
    scheduledFor: iso(record.sendAt),
    updatedAt: iso(record.updatedAt),
    recalledAt: iso(record.recalledAt),
    version: record.version,
    fanout: record.category !== null && state === 'sent' ? categoryFanout(record.id, record.category) : null,
  };
}

const isoOrNull = (description: string) => ({ type: ['string', 'null'], description });

export function registerMessageStatusRoute(app: FastifyInstance, deps: RouteDeps): void {
  app.get<{ Params: { id: string } }>(
    '/v1/messages/:id',
    {
      onRequest: requireScope(deps.verifier, Scope.MESSAGES_WRITE),
      schema: {
        summary: 'A message\'s state',
        description:
          'What became of a message: `scheduled` (held until `scheduledFor`), `sent`, or `recalled`. Scope ' +
          '`messages:write`; only the producer that sent it (token `sub`) or a token with `messages:admin` may read it ' +
          '(else 403 NOT_MESSAGE_OWNER). 404 MESSAGE_NOT_FOUND for an unknown or expired id.',
        tags: ['messages'],
        security: BEARER,
        params: messageIdParams,
        response: {
          200: {
            type: 'object',
            required: ['id', 'state', 'category', 'recipients', 'createdAt', 'expiresAt', 'scheduledFor', 'updatedAt', 'recalledAt', 'version', 'fanout'],
            properties: {
              id: { type: 'string' },
              state: {
                type: 'string',
                enum: ['scheduled', 'sent', 'recalled'],
                description: 'scheduled: held until scheduledFor (also while its send is under way); sent; recalled (DELETE).',
              },
              category: { type: ['string', 'null'], description: 'The category it is for, or null for a list of users.' },
              recipients: { type: 'integer', description: 'How many user ids it was sent (or is to be sent) to; 0 for a category.' },
              createdAt: isoOrNull('When it was sent (for a scheduled message, when its time came); null until then.'),
              expiresAt: isoOrNull('createdAt + ttlSeconds; null until it is sent.'),
              scheduledFor: isoOrNull('The sendAt it was given; null for a message sent at once.'),
              updatedAt: isoOrNull('Its last update (PATCH), or null.'),
              recalledAt: isoOrNull('When it was recalled (DELETE), or null.'),
              version: { type: 'integer', description: '1 when sent, one more per update.' },
              fanout: {
                ...fanoutSchema,
                type: ['object', 'null'],
                description: 'For a category message once sent: what GET /v1/messages/{id}/fanout shows. Else null.',
              },
            },
          },
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const record = checkOwner(await readRecord(deps.redis, request.params.id), request.principal);
      return reply.send(messageStatus(record));
    },
  );
}
