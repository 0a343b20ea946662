/**
 * The analyst API over real HTTP handling (app.inject) and a real Postgres, seeded through the
 * store: filters, keyset pagination, limits, cursors, scopes, stats, docs and metrics.
 */
process.env.METADATA_SERVER_DETECTION = 'none';

import type { ExposureEvent } from '@herald/types';
import { sharedAnalystApi } from './support/analyst-api';
import { analystToken, bearer, seedEvents } from './support/fixtures';

jest.setTimeout(30_000);

let auth: { authorization: string };

const HOUR = 3600_000;
const T0 = Date.UTC(2031, 4, 1, 10, 0, 0);
const at = (ms: number) => new Date(T0 + ms).toISOString();

/**
 * 30 events over three hours, three messages, five users, two categories plus direct messages.
 * Events 3k+1 and 3k+2 share their deliveredAt, so those ties are ordered by eventId.
 */
const events: ExposureEvent[] = seedEvents(30, 3, (i) => ({
  category: i % 4 === 0 ? null : i % 2 ? 'news' : 'sports',
  deliveredAt: at(Math.floor(i / 3) * 12 * 60_000 + (i % 3 === 0 ? 0 : 60_000)),
}));
const inOrder = [...events].sort((a, b) => (a.deliveredAt === b.deliveredAt ? (a.eventId < b.eventId ? -1 : 1) : a.deliveredAt < b.deliveredAt ? -1 : 1));

async function get(url: string, headers: Record<string, string> = auth) {
  const res = await api.consumer.app.inject({ method: 'GET', url, headers });
  return { status: res.statusCode, body: res.json() };
}

async function getAll(query: string, limit: number): Promise<{ items: ExposureEvent[]; pages: number }> {
  const items: ExposureEvent[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const { status, body } = await get(`/v1/exposures?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(status).toBe(200);
    expect(body.items.length).toBeLessThanOrEqual(limit);
    items.push(...body.items);
    cursor = body.nextCursor;
    pages += 1;
  } while (cursor && pages < 100);
  return { items, pages };
}

const api = sharedAnalystApi(events);

beforeAll(async () => {
  auth = bearer(await analystToken());
});

test('the seed has ties on deliveredAt, so cursor order depends on eventId', () => {
  expect(new Set(events.map((e) => e.deliveredAt)).size).toBeLessThan(events.length);
});

describe('GET /v1/exposures', () => {
  test('without filters returns every event in (deliveredAt, eventId) order in the Contract shape', async () => {
    const { status, body } = await get('/v1/exposures');
    expect(status).toBe(200);
    expect(body).toEqual({ items: inOrder, nextCursor: null });
  });

  test('filters by messageId, userId and category, alone and together', async () => {
    const cases: Array<[string, (e: ExposureEvent) => boolean]> = [
      ['messageId=m1', (e) => e.messageId === 'm1'],
      ['userId=u3', (e) => e.userId === 'u3'],
      ['category=news', (e) => e.category === 'news'],
      ['messageId=m0&category=sports', (e) => e.messageId === 'm0' && e.category === 'sports'],
      ['userId=nobody', () => false],
    ];
    for (const [query, keep] of cases) {
      const { status, body } = await get(`/v1/exposures?${query}`);
      expect({ query, status, items: body.items }).toEqual({ query, status: 200, items: inOrder.filter(keep) });
    }
  });

  test('from is inclusive and to exclusive', async () => {
    const from = inOrder[4].deliveredAt;
    const to = inOrder[20].deliveredAt;
    const { body } = await get(`/v1/exposures?from=${from}&to=${to}`);
    expect(body.items).toEqual(inOrder.filter((e) => e.deliveredAt >= from && e.deliveredAt < to));
    expect(body.items[0].deliveredAt).toBe(from);
    expect(body.items.some((e: ExposureEvent) => e.deliveredAt === to)).toBe(false);
  });

  test('accepts from/to with an offset and compares instants', async () => {
    const from = new Date(inOrder[10].deliveredAt);
    const withOffset = new Date(from.getTime() + 2 * HOUR).toISOString().replace('Z', '+02:00');
    const { status, body } = await get(`/v1/exposures?from=${encodeURIComponent(withOffset)}`);
    expect(status).toBe(200);
    expect(body.items).toEqual(inOrder.filter((e) => e.deliveredAt >= from.toISOString()));
  });

  test('cursor pagination returns every row exactly once and in order, for several page sizes and with filters', async () => {
    for (const limit of [1, 4, 7, 29, 30]) {
      const { items, pages } = await getAll('', limit);
      expect(items).toEqual(inOrder);
      expect(pages).toBe(Math.ceil(inOrder.length / limit));
    }
    const filtered = await getAll('category=news&from=' + inOrder[3].deliveredAt, 2);
    expect(filtered.items).toEqual(inOrder.filter((e) => e.category === 'news' && e.deliveredAt >= inOrder[3].deliveredAt));
  });

  test('the last full page has nextCursor null', async () => {
    const { body } = await get('/v1/exposures?limit=30');
    expect(body.items).toHaveLength(30);
    expect(body.nextCursor).toBeNull();
  });

  test('limit defaults to 100 and must be 1-1000', async () => {
    await api.consumer.store.insertBatch(
      Array.from({ length: 150 }, (_, i) => ({ ...events[0], eventId: `bulk${String(i).padStart(4, '0')}`, messageId: 'bulk', deliveredAt: at(10 * HOUR + i) })),
    );
    const byDefault = await get('/v1/exposures?messageId=bulk');
    expect(byDefault.body.items).toHaveLength(100);
    expect(typeof byDefault.body.nextCursor).toBe('string');
    expect((await get('/v1/exposures?messageId=bulk&limit=1000')).body.items).toHaveLength(150);
    for (const bad of ['0', '1001', '-5', 'ten', '2.5']) {
      const { status, body } = await get(`/v1/exposures?limit=${bad}`);
      expect({ bad, status, code: body.error?.code }).toEqual({ bad, status: 400, code: 'INVALID_QUERY' });
    }
  });

  test('a cursor this API did not produce is 400 INVALID_CURSOR', async () => {
    const forged = [
      'not-a-cursor',
      Buffer.from('{"deliveredAt":"2031-01-01T00:00:00.000Z"}').toString('base64url'),
      Buffer.from(JSON.stringify([1, 'yesterday', 'evt0001'])).toString('base64url'),
      Buffer.from(JSON.stringify([2, at(0), 'evt0001'])).toString('base64url'),
      'aGVsbG8%3D', // '=' padding is not base64url
    ];
    for (const cursor of forged) {
      const { status, body } = await get(`/v1/exposures?cursor=${cursor}`);
      expect({ cursor, status, body }).toEqual({
        cursor,
        status: 400,
        body: { error: { code: 'INVALID_CURSOR', message: expect.any(String) } },
      });
    }
  });

  test('bad filters are 400 INVALID_QUERY with the Contract error body', async () => {
    for (const query of ['from=yesterday', 'to=2031-01-01', `from=${at(HOUR)}&to=${at(0)}`, 'userId=bad%20id', 'category=a/b', 'colour=blue']) {
      const { status, body } = await get(`/v1/exposures?${query}`);
      expect({ query, status, body }).toEqual({ query, status: 400, body: { error: { code: 'INVALID_QUERY', message: expect.any(String) } } });
    }
  });

  test('401 without a valid token, before the query is even looked at; 403 without exposures:read', async () => {
    expect(await get('/v1/exposures', {})).toEqual({ status: 401, body: { error: { code: 'UNAUTHORIZED', message: expect.any(String) } } });
    expect((await get('/v1/exposures?limit=0', {})).status).toBe(401);
    expect((await get('/v1/exposures', bearer('not.a.jwt'))).status).toBe(401);
    const producer = bearer(await analystToken('messages:write categories:write'));
    expect(await get('/v1/exposures', producer)).toEqual({ status: 403, body: { error: { code: 'FORBIDDEN', message: expect.any(String) } } });
    expect((await get('/v1/exposures/stats?groupBy=message', producer)).status).toBe(403);
  });
});

describe('GET /v1/exposures/stats', () => {
  const window = `from=${at(0)}&to=${at(4 * HOUR)}`;
  const seeded = (e: ExposureEvent) => e.deliveredAt < at(4 * HOUR);

  function expected(keyOf: (e: ExposureEvent) => string | null, filter: (e: ExposureEvent) => boolean = seeded) {
    const groups = new Map<string | null, { exposures: number; users: Set<string> }>();
    for (const e of events.filter(filter)) {
      const g = groups.get(keyOf(e)) ?? { exposures: 0, users: new Set<string>() };
      g.exposures += 1;
      g.users.add(e.userId);
      groups.set(keyOf(e), g);
    }
    return [...groups].map(([key, g]) => ({ key, exposures: g.exposures, users: g.users.size }));
  }
  const byKey = (a: { key: string | null }, b: { key: string | null }) => String(a.key).localeCompare(String(b.key));

  test('groupBy=message counts exposures and distinct users, most exposed first', async () => {
    const { status, body } = await get(`/v1/exposures/stats?groupBy=message&${window}`);
    expect(status).toBe(200);
    expect(body.groupBy).toBe('message');
    expect([...body.items].sort(byKey)).toEqual(expected((e) => e.messageId).sort(byKey));
    const counts = body.items.map((i: { exposures: number }) => i.exposures);
    expect(counts).toEqual([...counts].sort((a, b) => b - a));
  });

  test('groupBy=category has a null key for messages sent to users directly', async () => {
    const { body } = await get(`/v1/exposures/stats?groupBy=category&${window}`);
    expect([...body.items].sort(byKey)).toEqual(expected((e) => e.category).sort(byKey));
    expect(body.items.some((i: { key: string | null }) => i.key === null)).toBe(true);
  });

  test('groupBy=hour keys by the UTC hour in time order, and from/to narrow the window', async () => {
    const hourOf = (e: ExposureEvent) => `${e.deliveredAt.slice(0, 13)}:00:00.000Z`;
    const { body } = await get(`/v1/exposures/stats?groupBy=hour&${window}`);
    expect(body.items).toEqual(expected(hourOf).sort(byKey));
    expect(body.items.length).toBeGreaterThan(1);

    const narrow = await get(`/v1/exposures/stats?groupBy=hour&from=${at(HOUR)}&to=${at(2 * HOUR)}`);
    expect(narrow.body.items).toEqual(expected(hourOf, (e) => e.deliveredAt >= at(HOUR) && e.deliveredAt < at(2 * HOUR)));
  });

  test('groupBy is required and must be message, category or hour', async () => {
    for (const query of ['', 'groupBy=day', `groupBy=hour&from=${at(HOUR)}&to=${at(0)}`]) {
      const { status, body } = await get(`/v1/exposures/stats?${query}`);
      expect({ query, status, code: body.error?.code }).toEqual({ query, status: 400, code: 'INVALID_QUERY' });
    }
  });
});

test('/docs documents both routes and /metrics exposes the consumer metrics', async () => {
  const docs = await api.consumer.app.inject({ method: 'GET', url: '/docs/json' });
  expect(docs.statusCode).toBe(200);
  const paths = docs.json().paths;
  expect(Object.keys(paths)).toEqual(expect.arrayContaining(['/v1/exposures', '/v1/exposures/stats']));
  expect(paths['/v1/exposures'].get.parameters.map((p: { name: string }) => p.name)).toEqual(
    expect.arrayContaining(['messageId', 'userId', 'category', 'from', 'to', 'limit', 'cursor']),
  );
  const metrics = await api.consumer.app.inject({ method: 'GET', url: '/metrics' });
  for (const name of [
    'herald_exposures_received_total',
    'herald_exposures_inserted_total',
    'herald_exposures_duplicates_total',
    'herald_exposures_dead_letter_total',
    'herald_consumer_batch_seconds',
  ]) {
    expect(metrics.body).toContain(name);
  }
});

test('/readyz checks Postgres', async () => {
  const res = await api.consumer.app.inject({ method: 'GET', url: '/readyz' });
  expect(res.statusCode).toBe(200);
});
