/**
 * `GET /v1/presence?userIds=a,b,…` (an addition to the Contract, scope `presence:read`): which of
 * these users are connected now, with each session's gateway and start. The gateways keep it in
 * Redis (libs/redis presence.ts); this route only reads it: one HGETALL per user and one read of
 * the live gateway instances, issued together, nothing written.
 */
import type { FastifyInstance } from 'fastify';
import { requireScope } from '@herald/http';
import { readPresence } from '@herald/redis';
import { ErrorCodes, HeraldError, isUserId, Scope } from '@herald/types';
import type { RouteDeps } from './deps';
import { BEARER, errorResponses, userIdSchema } from './schemas';
import { schemaErrors } from './schema-errors';

/** Most user ids one request may name. */
export const MAX_PRESENCE_USERS = 1000;

const USAGE = `userIds is required: 1 to ${MAX_PRESENCE_USERS} user ids, comma-separated (userIds=a,b,c).`;

interface PresenceQuery {
  userIds: string;
}

const sessionSchema = {
  type: 'object',
  required: ['sessionId', 'gatewayId', 'connectedAt'],
  properties: {
    sessionId: { type: 'string', description: 'The id the session got in its welcome frame.' },
    gatewayId: { type: 'string', description: 'GATEWAY_ID of the gateway that holds it.' },
    connectedAt: { type: 'string', format: 'date-time', description: 'When the gateway registered it (ISO-8601, the gateway\'s clock).' },
  },
} as const;

/** The asked ids, or the error that refuses them. */
function parseUserIds(raw: string): string[] {
  const ids = raw.split(',');
  if (ids.length > MAX_PRESENCE_USERS) throw new HeraldError('INVALID_QUERY', `${USAGE} Got ${ids.length}.`);
  const bad = ids.findIndex((id) => !isUserId(id));
  if (bad >= 0) throw new HeraldError('INVALID_USER_ID', `userIds/${bad}: ${ErrorCodes.INVALID_USER_ID.message}`);
  return ids;
}

export function registerPresenceRoute(app: FastifyInstance, deps: RouteDeps): void {
  app.get<{ Querystring: PresenceQuery }>(
    '/v1/presence',
    {
      onRequest: requireScope(deps.verifier, Scope.PRESENCE_READ),
      schema: {
        summary: 'Which users are connected now',
        description:
          'One entry per asked id, in the order asked (an id asked twice is answered twice): `online` and the ' +
          'sessions open on live gateways, oldest first. A gateway killed outright stops counting within one ' +
          `heartbeat period (HEARTBEAT_INTERVAL_MS) of its death. Up to ${MAX_PRESENCE_USERS} ids, as long as the ` +
          'request line fits the 16 KB header limit (431 HEADERS_TOO_LARGE otherwise). Scope `presence:read`.',
        tags: ['presence'],
        security: BEARER,
        querystring: {
          type: 'object',
          required: ['userIds'],
          properties: {
            userIds: { type: 'string', minLength: 1, description: `Comma-separated user ids, 1 to ${MAX_PRESENCE_USERS}.` },
          },
        },
        response: {
          200: {
            description: 'The presence of each asked user; unknown users are offline.',
            type: 'object',
            required: ['presence'],
            properties: {
              presence: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['userId', 'online', 'sessions'],
                  properties: {
                    userId: userIdSchema,
                    online: { type: 'boolean', description: 'True when the user has at least one session.' },
                    sessions: { type: 'array', items: sessionSchema },
                  },
                },
              },
            },
          },
          ...errorResponses(400, 401, 403),
        },
      },
      schemaErrorFormatter: schemaErrors([{ in: 'querystring', path: /.*/, code: 'INVALID_QUERY', message: USAGE }]),
    },
    async (request) => ({ presence: await readPresence(deps.redis, parseUserIds(request.query.userIds)) }),
  );
}
