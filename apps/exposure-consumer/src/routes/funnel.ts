/**
 * The funnel and the lifecycle counts (docs/ANALYTICS.md): `GET /v1/exposures/funnel` and
 * `GET /v1/exposures/messages/stats`, scope exposures:read like the other analyst routes.
 */
import type { FastifyInstance } from 'fastify';
import type { TokenVerifier } from '@herald/auth';
import { requireScope } from '@herald/http';
import { Scope } from '@herald/types';
import type { FunnelStore } from '../db/funnel-store';
import { timeWindow } from './exposures';
import { funnelRouteSchema, lifecycleRouteSchema, type FunnelQuerystring, type LifecycleQuerystring } from './funnel-schemas';

export function registerFunnelRoutes(app: FastifyInstance, { funnels, verifier }: { funnels: FunnelStore; verifier: TokenVerifier }): void {
  const authorize = requireScope(verifier, Scope.EXPOSURES_READ);

  app.get<{ Querystring: FunnelQuerystring }>('/v1/exposures/funnel', { onRequest: authorize, schema: funnelRouteSchema }, async (request) => {
    const q = request.query;
    const range = timeWindow(q.from, q.to);
    const result = await funnels.funnel({ messageId: q.messageId, category: q.category, groupBy: q.groupBy, ...range });
    return { groupBy: q.groupBy ?? null, ...result };
  });

  app.get<{ Querystring: LifecycleQuerystring }>('/v1/exposures/messages/stats', { onRequest: authorize, schema: lifecycleRouteSchema }, async (request) => {
    const q = request.query;
    return funnels.lifecycle({ category: q.category, ...timeWindow(q.from, q.to) });
  });
}
