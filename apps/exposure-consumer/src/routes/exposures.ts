/**
 * The analyst API (Contract): `GET /v1/exposures` (filtered pages with a keyset cursor) and
 * `GET /v1/exposures/stats` (counts per message, category or hour). Both need `exposures:read`;
 * the token is checked first (onRequest), so a caller without one learns nothing from a 400.
 */
import type { FastifyInstance } from 'fastify';
import type { TokenVerifier } from '@herald/auth';
import { requireScope } from '@herald/http';
import { HeraldError, Scope } from '@herald/types';
import type { ExposureStore } from '../db/exposure-store';
import { decodeCursor, encodeCursor } from './cursor';
import { inStoredRange } from '../db/storable';
import { exposureStatsSchema, listExposuresSchema, type ExposuresQuery, type StatsQuerystring } from './exposure-schemas';

export interface ExposureRoutesOptions {
  store: Pick<ExposureStore, 'query' | 'stats'>;
  verifier: TokenVerifier;
}

export function registerExposureRoutes(app: FastifyInstance, { store, verifier }: ExposureRoutesOptions): void {
  const authorize = requireScope(verifier, Scope.EXPOSURES_READ);

  app.get<{ Querystring: ExposuresQuery }>('/v1/exposures', { onRequest: authorize, schema: listExposuresSchema }, async (request) => {
    const q = request.query;
    const { from, to } = timeWindow(q.from, q.to);
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    const page = await store.query({ messageId: q.messageId, userId: q.userId, category: q.category, from, to, after, limit: q.limit });
    const last = page.items[page.items.length - 1];
    return {
      items: page.items,
      nextCursor: page.hasMore && last ? encodeCursor({ deliveredAt: last.deliveredAt, eventId: last.eventId }) : null,
    };
  });

  app.get<{ Querystring: StatsQuerystring }>('/v1/exposures/stats', { onRequest: authorize, schema: exposureStatsSchema }, async (request) => {
    const q = request.query;
    const { from, to } = timeWindow(q.from, q.to);
    const items = await store.stats({ groupBy: q.groupBy, from, to, limit: q.limit });
    return { groupBy: q.groupBy, items };
  });
}

/** Normalises `from`/`to` to UTC ISO strings and refuses an empty-by-construction window. */
export function timeWindow(fromRaw?: string, toRaw?: string): { from?: string; to?: string } {
  const from = fromRaw === undefined ? undefined : toIso('from', fromRaw);
  const to = toRaw === undefined ? undefined : toIso('to', toRaw);
  if (from && to && from > to) throw new HeraldError('INVALID_QUERY', 'from must not be later than to.');
  return { from, to };
}

function toIso(name: string, value: string): string {
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) throw new HeraldError('INVALID_QUERY', `${name} must be an ISO-8601 date-time with a time zone.`);
  // A valid date-time can still fall outside what Postgres takes (year 0000, or 9999-12-31 with a
  // negative offset is year 10000); refused here, not answered with a 500 from the query.
  if (!inStoredRange(time)) throw new HeraldError('INVALID_QUERY', `${name} must be in the years 0001 to 9999 (UTC).`);
  return time.toISOString();
}
