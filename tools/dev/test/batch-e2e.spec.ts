/**
 * POST /v1/messages/batch end to end: gateway and ingest as processes, real WebSocket clients,
 * once on one redis-server and once on a 3-master Redis Cluster. A connected user gets a batch's
 * messages live, those sent to them in the items' order, category items through their categories'
 * logs; an offline user gets theirs, in order, on connecting; an invalid item costs only itself.
 */
import { signToken, startTestStack, TestClient, type Stack } from '@herald/testing';
import { StackClient } from './support/stack-client';

type ItemResult = { id: string } | { error: { code: string } };

describe.each(['single', 'cluster'] as const)('a batch on %s Redis', (redis) => {
  let stack: Stack;
  let c: StackClient;

  beforeAll(async () => {
    ({ stack } = await startTestStack({ EXPOSURE_TOPIC: `exposures-batch-${redis}` }, { redis, withoutConsumer: true }));
    c = await StackClient.create(stack);
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  async function batch(messages: object[]): Promise<ItemResult[]> {
    const res = await fetch(`${stack.apps.ingest.url}/v1/messages/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${c.producer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ messages }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { results: ItemResult[] }).results;
  }

  it('delivers mixed user and category items to a connected user, user items in order, and the rest offline', async () => {
    const [online, offline] = [`batch-on-${redis}`, `batch-off-${redis}`];
    const category = `batch-news-${redis}`;
    await c.setCategories(online, [category]);
    const client = await c.connect(online);

    const results = await batch([
      { userIds: [online], payload: { n: 1 } },
      { category, payload: { n: 2 } },
      { userIds: [online, offline], payload: { n: 3 } },
      { userIds: ['not valid!'], payload: { n: 'refused' } },
      { category, payload: { n: 5 } },
      { userIds: [offline, online], payload: { n: 6 }, ttlSeconds: 120 },
    ]);
    expect(results.map((r) => ('error' in r ? r.error.code : 'ok'))).toEqual(['ok', 'ok', 'ok', 'INVALID_USER_ID', 'ok', 'ok']);
    const ids = results.map((r) => ('id' in r ? r.id : ''));
    const direct = [ids[0], ids[2], ids[5]];

    const received = await client.waitForMessages(5);
    expect(received.map((m) => m.id).filter((id) => direct.includes(id))).toEqual(direct);
    expect(new Set(received.map((m) => m.id))).toEqual(new Set([ids[0], ids[1], ids[2], ids[4], ids[5]]));
    expect(received.find((m) => m.id === ids[4])).toMatchObject({ category, payload: { n: 5 } });
    await client.close();

    const later = await TestClient.connect(c.wsUrl(), await signToken(offline));
    expect((await later.waitForMessages(2)).map((m) => [m.id, m.payload])).toEqual([
      [ids[2], { n: 3 }],
      [ids[5], { n: 6 }],
    ]);
    await later.close();
  }, 60_000);
});
