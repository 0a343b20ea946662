import { Socket } from 'node:net';
import { keys, readInbox } from '@herald/redis';
import { TestClient, waitFor, signToken } from '@herald/testing';
import { sharedHarness } from './harness';

const h = sharedHarness();

let n = 0;
const user = () => `user-${++n}-${Date.now()}`;

describe('connect and verify', () => {
  it('refuses a missing, malformed, badly signed or expired token with 401 before the upgrade', async () => {
    const u = user();
    const cases = [
      undefined,
      'not-a-jwt',
      await signToken(u, { secret: 'another-secret-that-is-long-enough-0123456789' }),
      await signToken(u, { expiresIn: Math.floor(Date.now() / 1000) - 60 }),
      await signToken(undefined),
    ];
    for (const token of cases) {
      const refusal = await TestClient.refusal(h.wsUrl, token);
      expect(refusal.status).toBe(401);
      expect(JSON.parse(refusal.body)).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
    }
    expect(h.gateway.hub.size).toBe(0);
  });

  it('accepts the token from the access_token query parameter and sends welcome first', async () => {
    const u = user();
    await h.setCategories(u, ['sports', 'news']);
    const client = await TestClient.connect(h.wsUrl, await h.token(u), { viaQuery: true });
    const welcome = await client.waitForFrame('welcome');
    expect(client.frames[0]).toBe(welcome);
    expect(welcome).toEqual({ type: 'welcome', sessionId: expect.any(String), userId: u, categories: ['news', 'sports'] });
    await client.close();
  });

  it('answers 404 for another path', async () => {
    const refusal = await TestClient.refusal(h.wsUrl.replace(/\/ws$/, '/other'), await h.token(user()));
    expect(refusal.status).toBe(404);
  });
});

describe('offline drain', () => {
  it('delivers offline messages in order after welcome; acked ids leave the list, unacked come back', async () => {
    const u = user();
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) ids.push(await h.send([u], { i }));
    const token = await h.token(u);

    const first = await TestClient.connect(h.wsUrl, token);
    const got = await first.waitForMessages(25);
    expect(first.frames[0].type).toBe('welcome');
    expect(got.map((m) => m.id)).toEqual(ids);
    expect(got.map((m) => (m.payload as { i: number }).i)).toEqual([...Array(25).keys()]);
    expect(got[0]).toEqual({ type: 'message', id: ids[0], category: null, payload: { i: 0 }, createdAt: expect.any(String) });

    const acked = ids.slice(0, 10);
    first.ack(acked);
    await waitFor(async () => (await readInbox(h.redis, u)).length === 15, { what: 'acks applied' });
    await first.close();

    const second = await TestClient.connect(h.wsUrl, token);
    const again = await second.waitForMessages(15);
    expect(again.map((m) => m.id)).toEqual(ids.slice(10));
    await second.close();
  });

  it('never delivers an expired message and drops its id from the list', async () => {
    const u = user();
    const expired = await h.send([u], { old: true }, { ttlMs: 1 });
    const fresh = await h.send([u], { old: false });
    await waitFor(async () => (await h.redis.exists(keys.message(expired))) === 0, { what: 'body expiry' });
    const client = await TestClient.connect(h.wsUrl, await h.token(u));
    const got = await client.waitForMessages(1);
    await waitFor(async () => (await readInbox(h.redis, u)).length === 1, { what: 'expired id removed' });
    expect(got.map((m) => m.id)).toEqual([fresh]);
    expect(await readInbox(h.redis, u)).toEqual([fresh]);
    await client.close();
  });

  it("writes a drain's messages to the socket in one write, not one each (write-burst.ts)", async () => {
    const u = user();
    for (let i = 0; i < 10; i++) await h.send([u], { i });
    // Every OS write of message frames, by the port it went to (write and writev alike).
    const proto = Socket.prototype as unknown as { _writeGeneric: (writev: boolean, data: unknown, ...rest: unknown[]) => unknown };
    const original = proto._writeGeneric;
    const writes: number[] = [];
    proto._writeGeneric = function (this: Socket, writev, data, ...rest) {
      const chunks = writev ? (data as Array<{ chunk: Buffer } | Buffer>).map((c) => ('chunk' in c ? c.chunk : c)) : [data];
      if (chunks.some((c) => String(c).includes('"type":"message"'))) writes.push(this.remotePort ?? 0);
      return original.call(this, writev, data, ...rest);
    };
    try {
      const client = await TestClient.connect(h.wsUrl, await h.token(u));
      expect((await client.waitForMessages(10)).map((m) => (m.payload as { i: number }).i)).toEqual([...Array(10).keys()]);
      const port = (client.ws as unknown as { _socket: Socket })._socket.localPort;
      expect(writes.filter((p) => p === port)).toHaveLength(1);
      await client.close();
    } finally {
      proto._writeGeneric = original;
    }
  });
});

describe('live delivery', () => {
  it('pushes a live message to every session of the user', async () => {
    const u = user();
    const token = await h.token(u);
    const a = await TestClient.connect(h.wsUrl, token);
    const b = await TestClient.connect(h.wsUrl, token);
    await a.waitForFrame('welcome');
    await b.waitForFrame('welcome');
    await waitFor(() => h.gateway.hub.sessionsOf(u).size === 2 && [...h.gateway.hub.sessionsOf(u)].every((s) => s.state === 1));
    const id = await h.send([u], { hello: 'live' });
    const [ma] = await a.waitForMessages(1);
    const [mb] = await b.waitForMessages(1);
    expect(ma.id).toBe(id);
    expect(mb.id).toBe(id);
    await a.close();
    await b.close();
  });

  it('delivers messages sent during the connect exactly once, in order', async () => {
    const u = user();
    const token = await h.token(u);
    const sent: string[] = [];
    for (let i = 0; i < 20; i++) sent.push(await h.send([u], { i }));
    const connecting = TestClient.connect(h.wsUrl, token);
    for (let i = 20; i < 120; i++) sent.push(await h.send([u], { i }));
    const client = await connecting;
    await client.waitForMessages(120);
    // Give any duplicate a chance to show up: send a marker and wait for it.
    const marker = await h.send([u], { marker: true });
    await client.waitForMessages(121);
    expect(client.messages().map((m) => m.id)).toEqual([...sent, marker]);
    await client.close();
  });

  it('delivers a direct message too big to copy to every recipient by reference, one body read for all', async () => {
    // The harness sends through the write protocol (liveNote): 5 copies of 250 KB are past the
    // inline budget, so each session gets a reference and the gateway reads the body once.
    const users = [user(), user(), user(), user(), user()];
    const clients = await Promise.all(users.map(async (u) => TestClient.connect(h.wsUrl, await h.token(u))));
    await Promise.all(clients.map((c) => c.waitForFrame('welcome')));
    const lookups = () => h.metric('herald_gateway_body_lookups_total', 'result="miss"');
    const missesBefore = await lookups();
    const id = await h.send(users, { big: 'x'.repeat(250_000) });
    for (const client of clients) {
      await client.waitForMessages(1);
      expect(client.messages()[0].id).toBe(id);
    }
    expect((await lookups()) - missesBefore).toBe(1);
    await Promise.all(clients.map((c) => c.close()));
  });

  it('uses the categories of a change made during the connect', async () => {
    // Connect many sessions while the categories change under them: each ends with the last set.
    const u = user();
    await h.setCategories(u, ['v0']);
    const token = await h.token(u);
    const connects = Array.from({ length: 20 }, () => TestClient.connect(h.wsUrl, token));
    for (let i = 1; i <= 20; i++) await h.setCategories(u, [`v${i}`]);
    const clients = await Promise.all(connects);
    await Promise.all(clients.map((c) => c.waitForFrame('welcome')));
    for (const session of h.gateway.hub.sessionsOf(u)) {
      await waitFor(() => h.gateway.hub.categoriesOfSession(session).join() === 'v20', { what: 'the last categories' });
    }
    expect(h.gateway.hub.sessionsIn('v20').size).toBe(20);
    await Promise.all(clients.map((c) => c.close()));
  });

  it('updates the session categories live when they change', async () => {
    const u = user();
    await h.setCategories(u, ['a']);
    const client = await TestClient.connect(h.wsUrl, await h.token(u));
    await client.waitForFrame('welcome');
    const [session] = [...h.gateway.hub.sessionsOf(u)];
    expect(h.gateway.hub.categoriesOfSession(session)).toEqual(['a']);
    await h.setCategories(u, ['b', 'c']);
    await waitFor(() => h.gateway.hub.categoriesOfSession(session).join() === 'b,c', { what: 'categories update' });
    expect(h.gateway.hub.sessionsIn('a').size).toBe(0);
    expect(h.gateway.hub.sessionsIn('b').has(session)).toBe(true);
    await client.close();
  });
});

describe('frames and lifecycle', () => {
  it('answers bad frames with an error frame and keeps the connection open', async () => {
    const u = user();
    const client = await TestClient.connect(h.wsUrl, await h.token(u));
    await client.waitForFrame('welcome');
    client.send('not json');
    client.send(JSON.stringify({ type: 'subscribe' }));
    client.send(JSON.stringify({ type: 'ack', ids: 'x' }));
    await waitFor(() => client.frames.filter((f) => f.type === 'error').length === 3, { what: 'three error frames' });
    expect(client.frames.filter((f) => f.type === 'error').map((f) => (f as { code: string }).code)).toEqual([
      'INVALID_JSON',
      'UNKNOWN_FRAME',
      'INVALID_FRAME',
    ]);
    const id = await h.send([u], { still: 'open' });
    expect((await client.waitForMessages(1))[0].id).toBe(id);
    await client.close();
  });

  it('closes with 4001 when the token expires while connected', async () => {
    const client = await TestClient.connect(h.wsUrl, await h.token(user(), { expiresIn: Math.floor(Date.now() / 1000) + 2 }));
    await client.waitForFrame('welcome');
    expect(await client.waitForClose(6000)).toBe(4001);
  });

  it('publishes one exposure event per push, offline and live', async () => {
    const u = user();
    const offline = await h.send([u], { kind: 'offline' });
    const client = await TestClient.connect(h.wsUrl, await h.token(u));
    const welcome = await client.waitForFrame('welcome');
    await client.waitForMessages(1);
    await waitFor(() => h.gateway.hub.sessionsOf(u).size === 1 && [...h.gateway.hub.sessionsOf(u)][0].state === 1);
    const live = await h.send([u], { kind: 'live' });
    await client.waitForMessages(2);
    const mine = await waitFor(() => {
      const found = h.exposures.filter((e) => e.userId === u);
      return found.length >= 2 && found;
    }, { what: 'two exposure events' });
    expect(mine.map((e) => [e.messageId, e.via]).sort()).toEqual([[live, 'live'], [offline, 'offline']].sort());
    for (const e of mine) {
      expect(e).toMatchObject({ sessionId: welcome.sessionId, gatewayId: h.config.GATEWAY_ID, category: null, userId: u });
      // Exactly the Contract's members (the gateway writes the JSON out itself).
      expect(Object.keys(e).sort()).toEqual(['category', 'deliveredAt', 'eventId', 'gatewayId', 'messageId', 'sessionId', 'userId', 'via']);
      expect(e.eventId).toMatch(/^[0-9a-f-]{36}$/);
      expect(Number.isNaN(Date.parse(e.deliveredAt))).toBe(false);
    }
    expect(new Set(mine.map((e) => e.eventId)).size).toBe(2);
    await client.close();
  });

  it('serves health and readiness, and metrics on the admin port', async () => {
    expect((await fetch(`${h.httpUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${h.httpUrl}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${h.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/herald_gateway_messages_pushed_total\{via="offline"\} [1-9]/);
  });
});
