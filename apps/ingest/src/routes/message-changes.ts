/**
 * `PATCH /v1/messages/{id}` (update) and `DELETE /v1/messages/{id}` (recall): a producer changes
 * a message it sent. The change is made in Redis first (message-changes.ts in @herald/redis),
 * then every gateway is told and confirms (control-bus.ts) before the answer: after a 200, no
 * gateway delivers the old version, or the recalled message, to anyone.
 */
import type { FastifyInstance } from 'fastify';
import { requireScope } from '@herald/http';
import { HeraldError, Scope, type UpdateFrame } from '@herald/types';
import { recalledEvent, updatedEvent } from '../events/event-outbox';
import { encodeMessage, readRecord, recallControlNote, recallMessage, updateBody, updateControlNote } from '@herald/redis';
import type { RouteDeps } from './deps';
import { BEARER, errorResponses, messageIdParams } from './schemas';
import { checkPayloadDepth } from './message-body';
import { checkOwner } from '../message-owner';
import { publicState } from './message-status';

interface UpdateBody {
  payload: unknown;
  ttlSeconds?: number;
}

const MS_PER_SECOND = 1000;

const gatewaysSchema = {
  type: 'object',
  description: 'Gateways told about the change, and those that confirmed it in time (CONTROL_CONFIRM_TIMEOUT_MS).',
  properties: { notified: { type: 'integer' }, confirmed: { type: 'integer' } },
} as const;

/** A state that refuses the change: 409, naming it. */
function conflict(state: string, change: string): HeraldError {
  return new HeraldError('MESSAGE_STATE_CONFLICT', `The message is ${state}: it cannot be ${change}.`);
}

export function registerMessageChangeRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const log = deps.logger.child({ module: 'message-changes' });
  const { config } = deps;

  app.patch<{ Params: { id: string }; Body: UpdateBody }>(
    '/v1/messages/:id',
    {
      onRequest: requireScope(deps.verifier, Scope.MESSAGES_WRITE),
      schema: {
        summary: 'Update a sent message',
        description:
          'Replaces the payload (and optionally the TTL, counted from the message\'s createdAt) of a message this ' +
          'producer sent. Offline recipients get the new version when they connect; sessions that received it get ' +
          '`{"type":"update","id","payload","updatedAt"}`; sessions that have not get only the new version. ' +
          'Scope `messages:write`; another producer\'s message needs `messages:admin`.',
        tags: ['messages'],
        security: BEARER,
        params: messageIdParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['payload'],
          properties: {
            payload: { description: 'The new payload: any JSON value, as on POST /v1/messages.' },
            ttlSeconds: {
              type: 'integer',
              minimum: 1,
              maximum: config.MESSAGE_MAX_TTL_SECONDS,
              description:
                'Seconds from the message\'s createdAt until it expires (unchanged when absent). A category message\'s ' +
                'life can be shortened, not lengthened (its log entry keeps the expiry it was sent with).',
            },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              id: { type: 'string' },
              version: { type: 'integer', description: '1 at send, +1 per update.' },
              updatedAt: { type: 'string' },
              expiresAt: { type: 'string' },
              gateways: gatewaysSchema,
            },
          },
          ...errorResponses(400, 401, 403, 404, 409, 413, 415),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { payload, ttlSeconds } = request.body;
      checkPayloadDepth(payload);
      const record = checkOwner(await readRecord(deps.redis, id), request.principal);
      const { createdAt, expiresAt: sentExpiresAt } = record;
      if (record.state !== 'sent' || createdAt === null || sentExpiresAt === null) throw conflict(publicState(record.state), 'updated');
      const now = Date.now();
      const expiresAt = ttlSeconds === undefined ? sentExpiresAt : createdAt + ttlSeconds * MS_PER_SECOND;
      if (expiresAt <= now) {
        throw new HeraldError('INVALID_BODY', 'ttlSeconds counts from the message\'s createdAt: that time has passed. Recall the message instead.');
      }
      if (record.category !== null && expiresAt > sentExpiresAt) {
        throw new HeraldError('INVALID_BODY', 'A category message\'s life can be shortened, not lengthened.');
      }
      const updatedAt = new Date(now).toISOString();
      const encoded = encodeMessage({
        id,
        category: record.category,
        payload,
        createdAt: new Date(createdAt).toISOString(),
        updatedAt,
        expiresAt,
        ...(record.replaceKey === null ? {} : { replaceKey: record.replaceKey }),
      });
      const updated = await updateBody(deps.redis, id, {
        encoded,
        ttlMs: ttlSeconds === undefined ? null : expiresAt - now,
        expiresAt,
        updatedAt: now,
      });
      if ('refused' in updated) {
        if (updated.refused === 'missing') throw new HeraldError('MESSAGE_NOT_FOUND');
        throw conflict(updated.refused, 'updated');
      }
      const frame: UpdateFrame = { type: 'update', id, payload, updatedAt };
      const gateways = await deps.control.announce((token) => updateControlNote(token, id, updated.version, JSON.stringify(frame), encoded));
      deps.metrics.changed.inc({ change: 'updated' });
      const size = Buffer.byteLength(JSON.stringify(payload) ?? '');
      await deps.events.append([updatedEvent(id, record, updated.version, now, expiresAt, size)]);
      log.debug({ id, version: updated.version, gateways }, 'message updated');
      return reply.send({ id, version: updated.version, updatedAt, expiresAt: new Date(expiresAt).toISOString(), gateways });
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/messages/:id',
    {
      onRequest: requireScope(deps.verifier, Scope.MESSAGES_WRITE),
      schema: {
        summary: 'Recall a message',
        description:
          'Removes a message this producer sent from every offline list and category log that holds it, and deletes ' +
          'its body; sessions that received it get `{"type":"delete","id"}`. After the answer no gateway delivers it. ' +
          'A scheduled message is cancelled; one whose send is under way stops (nothing more is stored, what it ' +
          'appended is removed). Repeating a recall answers the same. ' +
          'Scope `messages:write`; another producer\'s message needs `messages:admin`.',
        tags: ['messages'],
        security: BEARER,
        params: messageIdParams,
        response: {
          200: {
            type: 'object',
            properties: {
              id: { type: 'string' },
              state: { type: 'string', description: 'recalled' },
              removed: { type: 'integer', description: 'Offline list and category log entries removed by this request.' },
              gateways: gatewaysSchema,
            },
          },
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const record = checkOwner(await readRecord(deps.redis, id), request.principal);
      const { outcome, removed } = await recallMessage(deps.redis, id);
      if (outcome === 'missing') throw new HeraldError('MESSAGE_NOT_FOUND');
      let gateways = { notified: 0, confirmed: 0 };
      // A cancelled scheduled message: its job goes (one that is running finds the record recalled and sends nothing).
      if (outcome === 'cancelled') await deps.scheduler.dropScheduledJob(id);
      else gateways = await deps.control.announce((token) => recallControlNote(token, id));
      if (outcome !== 'again') deps.metrics.changed.inc({ change: outcome });
      // Also on a repeat: the first one's append may have been cut off; the consumer keeps one.
      await deps.events.append([recalledEvent(id, record, Date.now())]);
      log.debug({ id, outcome, removed, gateways }, 'message recalled');
      return reply.send({ id, state: 'recalled', removed, gateways });
    },
  );
}
