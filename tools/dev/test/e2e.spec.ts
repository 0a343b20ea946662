/**
 * The seed flow end to end: the three apps as real processes (from their sources; their bundles,
 * which `npm run dev` and the images run, in tools/build/test/build.spec.ts) on a private Redis, a
 * real Pub/Sub emulator and the consumer's embedded Postgres; once on one redis-server and once on
 * a 3-master Redis Cluster (REDIS_CLUSTER_NODES).
 */
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, signToken, startTestStack, TestClient, waitFor, type Stack } from '@herald/testing';
import type { ExposureEvent } from '@herald/types';

describe.each([
  ['one redis-server', 'single'],
  ['a 3-master Redis Cluster', 'cluster'],
] as const)('end to end on %s', (_label, redis) => {
  let stack: Stack;
  let producer: string;
  let analyst: string;

  beforeAll(async () => {
    // Postgres runs as its own user: the data dir's parent must be traversable by it.
    const dataParent = mkdtempSync(join(tmpdir(), 'herald-e2e-'));
    chmodSync(dataParent, 0o755);
    ({ stack } = await startTestStack(
      {
        EMBEDDED_PG_DIR: join(dataParent, 'pg'),
        EMBEDDED_PG_PORT: String(await freePort()),
        EXPOSURE_TOPIC: `exposures-e2e-${redis}`,
        EXPOSURE_SUBSCRIPTION: `exposures-e2e-${redis}-consumer`,
      },
      { redis },
    ));
    producer = await signToken('producer', { scope: 'messages:write categories:write' });
    analyst = await signToken('analyst', { scope: 'exposures:read' });
  }, 120_000);

  afterAll(async () => {
    const codes = await Promise.all(Object.values(stack?.apps ?? {}).map((app) => app.stop()));
    await stack?.stop();
    expect(codes).toEqual([0, 0, 0]);
  }, 60_000);

  const wsUrl = () => `${stack.apps.gateway.url.replace(/^http/, 'ws')}/ws`;

  async function send(userIds: string[], payload: unknown): Promise<string> {
    const res = await fetch(`${stack.apps.ingest.url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${producer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ userIds, payload }),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { id: string }).id;
  }

  async function exposuresOf(userId: string): Promise<ExposureEvent[]> {
    const res = await fetch(`${stack.apps['exposure-consumer'].url}/v1/exposures?userId=${userId}&limit=1000`, {
      headers: { authorization: `Bearer ${analyst}` },
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { items: ExposureEvent[] }).items;
  }

  it('delivers offline in order, live to every session, keeps unacked ids, and records every exposure', async () => {
    const user = `e2e-${redis}-${Date.now()}`;
    const token = await signToken(user);
    const offline = [await send([user], { n: 1 }), await send([user], { n: 2 }), await send([user], { n: 3 })];

    const a = await TestClient.connect(wsUrl(), token);
    expect((await a.waitForMessages(3)).map((m) => m.id)).toEqual(offline);
    expect(a.frames[0]).toMatchObject({ type: 'welcome', userId: user });
    const b = await TestClient.connect(wsUrl(), token, { viaQuery: true });
    expect((await b.waitForMessages(3)).map((m) => m.id)).toEqual(offline);

    const live = await send([user], { n: 'live' });
    expect((await a.waitForMessages(4))[3]).toMatchObject({ id: live, payload: { n: 'live' }, category: null });
    expect((await b.waitForMessages(4))[3].id).toBe(live);

    a.ack(offline.slice(0, 2));
    // The gateway applies the ack before it sees the close that follows it on the same socket.
    await a.close();
    await b.close();
    const c = await TestClient.connect(wsUrl(), token);
    await c.waitForMessages(2);
    const marker = await send([user], { n: 'marker' });
    await c.waitForMessages(3);
    expect(c.messages().map((m) => m.id)).toEqual([offline[2], live, marker]);
    await c.close();

    const pushed = [a, b, c].flatMap((client) => {
      const sessionId = (client.frames[0] as { sessionId: string }).sessionId;
      return client.messages().map((m) => `${m.id}/${sessionId}`);
    });
    const stored = await waitFor(
      async () => {
        const rows = await exposuresOf(user);
        return rows.length >= pushed.length && rows;
      },
      { timeoutMs: 20_000, what: `${pushed.length} exposure rows` },
    );
    expect(stored.map((e) => `${e.messageId}/${e.sessionId}`).sort()).toEqual(pushed.sort());
    expect(stored.every((e) => e.userId === user)).toBe(true);
    expect(stored.filter((e) => e.via === 'live').map((e) => e.messageId)).toEqual([live, live, marker]);
  }, 60_000);

  it('refuses a bad or expired token with 401', async () => {
    expect((await TestClient.refusal(wsUrl(), 'garbage')).status).toBe(401);
    const expired = await signToken('someone', { expiresIn: Math.floor(Date.now() / 1000) - 60 });
    expect((await TestClient.refusal(wsUrl(), expired)).status).toBe(401);
  });
});
