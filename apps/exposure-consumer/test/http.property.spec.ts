/**
 * Property-based tests (fast-check) of the analyst API against a real Postgres: random query
 * strings for GET /v1/exposures and /v1/exposures/stats (real and junk keys, huge and odd numbers,
 * dates Postgres cannot hold, forged cursors, repeated keys, broken percent-encoding). Whatever
 * arrives, the answer is a 2xx or a 4xx (never a 5xx), a 4xx carries the Contract error body with
 * the status its code has in the codes table, a 200 has the documented shape, and no read changes
 * a row of `exposures` or `dead_letters`.
 *
 * A failure prints fast-check's seed and counterexample; replay it with `{ seed, path }` in fcOptions.
 */
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import type { Pool } from 'pg';
import { expectContractAnswer, signToken } from '@herald/testing';
import { MAX_PAGE_LIMIT, MAX_STATS_LIMIT } from '../src/routes/exposure-schemas';
import { sharedAnalystApi } from './support/analyst-api';
import { analystToken, bearer, inspector } from './support/fixtures';
import { cursorArb, dateText, edgeDateText, events, queryArb, realCursors, tokenArb, type TokenKind } from './support/query-arbitraries';

jest.setTimeout(60_000);

const fcOptions = { numRuns: 300 };

/** A pool of the test's own, to see that no read writes. */
let pool: Pool;
// Declared before the API: after-all hooks run in the order they are declared, so the pool ends
// before Postgres stops.
afterAll(async () => {
  await pool?.end();
});
const api = sharedAnalystApi(events);
const tokens: Record<TokenKind, Record<string, string>> = { analyst: {}, otherScope: {}, none: {}, garbage: {} };

/** Row counts and a checksum of every row of both tables: equal means no read wrote anything. */
async function tableState(): Promise<Record<string, string>> {
  const { rows } = await pool.query<Record<string, string>>(
    `SELECT (SELECT count(*) FROM exposures)::text AS exposures,
            (SELECT md5(coalesce(string_agg(e::text, '|' ORDER BY e.event_id, e.delivered_at), '')) FROM exposures e) AS exposures_md5,
            (SELECT count(*) FROM dead_letters)::text AS dead_letters,
            (SELECT md5(coalesce(string_agg(d::text, '|' ORDER BY d.id), '')) FROM dead_letters d) AS dead_letters_md5`,
  );
  return rows[0];
}

// ---------------------------------------------------------------------------------------------
// Checks

const eventShape = {
  eventId: expect.any(String),
  messageId: expect.any(String),
  userId: expect.any(String),
  sessionId: expect.any(String),
  gatewayId: expect.any(String),
  deliveredAt: expect.any(String),
  via: expect.stringMatching(/^(offline|live)$/),
};

async function getAndCheck(path: string, query: string, token: TokenKind): Promise<LightMyRequestResponse> {
  const before = await tableState();
  const res = await api.consumer.app.inject({ method: 'GET', url: `${path}${query}`, headers: tokens[token] });
  expectContractAnswer(res);
  if (token !== 'analyst') expect([401, 403]).toContain(res.statusCode);
  expect(await tableState()).toEqual(before);
  return res;
}

/**
 * The route's property: any token and query string (with groupBy for /stats) passes getAndCheck,
 * and an answer below 400 is a 200 that passes `checkOk`.
 */
async function assertAnyQuery(path: '/v1/exposures' | '/v1/exposures/stats', checkOk: (res: LightMyRequestResponse) => void): Promise<void> {
  await fc.assert(
    fc.asyncProperty(tokenArb, queryArb(path === '/v1/exposures/stats'), async (token, query) => {
      const res = await getAndCheck(path, query, token);
      if (res.statusCode >= 400) return;
      expect(res.statusCode).toBe(200);
      checkOk(res);
    }),
    fcOptions,
  );
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  const { consumer, postgres } = api;
  await consumer.store.insertDeadLetter({ pubsubMessageId: 'dl-1', data: 'not json', reason: 'body is not JSON' });
  await consumer.store.insertDeadLetter({ pubsubMessageId: 'dl-2', data: '{}', reason: 'eventId must be a string' });
  pool = inspector(postgres.url);

  tokens.analyst = bearer(await analystToken());
  tokens.otherScope = bearer(await signToken('producer-1', { scope: 'messages:write' }));
  tokens.garbage = { authorization: 'Bearer not.a.jwt' };

  // Real cursors: page through everything three at a time.
  let cursor: string | null = null;
  do {
    const res: LightMyRequestResponse = await consumer.app.inject({
      method: 'GET',
      url: `/v1/exposures?limit=3${cursor ? `&cursor=${cursor}` : ''}`,
      headers: tokens.analyst,
    });
    expect(res.statusCode).toBe(200);
    cursor = (res.json() as { nextCursor: string | null }).nextCursor;
    if (cursor) realCursors.push(cursor);
  } while (cursor);
  expect(realCursors.length).toBeGreaterThan(5);
});

describe('GET /v1/exposures', () => {
  it('answers any query string with 2xx or a Contract 4xx, a 200 in the documented shape, and writes nothing', async () => {
    await assertAnyQuery('/v1/exposures', (res) => {
      const body = res.json() as { items: unknown[]; nextCursor: unknown };
      expect(Object.keys(body).sort()).toEqual(['items', 'nextCursor']);
      expect(body.items.length).toBeLessThanOrEqual(MAX_PAGE_LIMIT);
      for (const item of body.items) expect(item).toMatchObject(eventShape);
      expect(body.nextCursor === null || typeof body.nextCursor === 'string').toBe(true);
    });
  });
});

describe('GET /v1/exposures/stats', () => {
  it('answers any query string with 2xx or a Contract 4xx, a 200 in the documented shape, and writes nothing', async () => {
    await assertAnyQuery('/v1/exposures/stats', (res) => {
      const body = res.json() as { groupBy: string; items: unknown[] };
      expect(['message', 'category', 'hour']).toContain(body.groupBy);
      expect(body.items.length).toBeLessThanOrEqual(MAX_STATS_LIMIT);
      for (const item of body.items as Array<{ key: unknown }>) {
        expect(item).toEqual({ key: item.key === null ? null : expect.any(String), exposures: expect.any(Number), users: expect.any(Number) });
      }
    });
  });
});

describe('time windows and cursors', () => {
  it('answers any from, to and cursor in an otherwise good query with 2xx or a Contract 4xx, and writes nothing', async () => {
    const windowArb = fc.record(
      {
        from: fc.oneof(edgeDateText, dateText),
        to: fc.oneof(edgeDateText, dateText),
        cursor: cursorArb,
        groupBy: fc.constantFrom('message', 'category', 'hour'),
        stats: fc.boolean(),
      },
      { requiredKeys: ['groupBy', 'stats'] },
    );
    await fc.assert(
      fc.asyncProperty(windowArb, async ({ from, to, cursor, groupBy, stats }) => {
        const params = new URLSearchParams();
        if (stats) params.set('groupBy', groupBy);
        if (from !== undefined) params.set('from', from);
        if (to !== undefined) params.set('to', to);
        if (cursor !== undefined && !stats) params.set('cursor', cursor);
        const res = await getAndCheck(stats ? '/v1/exposures/stats' : '/v1/exposures', `?${params}`, 'analyst');
        expect([200, 400]).toContain(res.statusCode);
      }),
      fcOptions,
    );
  });
});
