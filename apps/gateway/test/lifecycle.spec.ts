/**
 * Stopping and resyncing: on close() readiness turns 503 at once and sessions are closed with
 * 1012 at WS_CLOSE_RATE (faster when the shutdown budget needs it); when the Redis subscriber
 * reconnects, notifications may have been lost, so sessions are closed with 1012 and their
 * clients reconnect and drain what was sent meanwhile; the clients already back are not cut off
 * at the resync's deadline.
 */
import WebSocket from 'ws';
import { fetchMetric, TestClient, waitFor } from '@herald/testing';
import { CloseCode } from '@herald/types';
import { sharedHarness } from './harness';

const h = sharedHarness();

async function connectMany(gateway: { url: string }, n: number, tag: string): Promise<{ clients: TestClient[]; closedAt: number[] }> {
  const closedAt: number[] = [];
  const clients = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const client = await TestClient.connect(`${gateway.url.replace(/^http/, 'ws')}/ws`, await h.token(`${tag}-${i}-${Date.now()}`));
      await client.waitForFrame('welcome');
      client.ws.on('close', () => closedAt.push(Date.now()));
      return client;
    }),
  );
  return { clients, closedAt };
}

it('on close: readiness 503 at once, every session closed with 1012, spread at WS_CLOSE_RATE', async () => {
  const started = await h.startGateway({ WS_CLOSE_RATE: 20, SHUTDOWN_TIMEOUT_MS: 10_000 });
  const { clients, closedAt } = await connectMany(started, 10, 'paced');
  expect((await fetch(`${started.url}/readyz`)).status).toBe(200);

  const closing = started.gateway.close();
  expect((await fetch(`${started.url}/readyz`)).status).toBe(503);
  await closing;
  expect(clients.map((c) => c.closeCode)).toEqual(clients.map(() => CloseCode.SERVER_RESTART));
  // 10 sessions at 20 per second: one every 50 ms, the last about 450 ms after the first.
  expect(Math.max(...closedAt) - Math.min(...closedAt)).toBeGreaterThanOrEqual(300);
}, 30_000);

it('on close: closes faster than WS_CLOSE_RATE when the shutdown budget needs it', async () => {
  const started = await h.startGateway({ WS_CLOSE_RATE: 1, SHUTDOWN_TIMEOUT_MS: 2000 });
  const { clients } = await connectMany(started, 10, 'budget');
  const t0 = Date.now();
  await started.gateway.close();
  expect(clients.map((c) => c.closeCode)).toEqual(clients.map(() => CloseCode.SERVER_RESTART));
  // At 1 per second this would take 10 s; the budget (40 % of 2 s for sessions) wins.
  expect(Date.now() - t0).toBeLessThan(2000);
}, 30_000);

it('closes sessions with 1012 when its Redis subscriber reconnects; clients reconnect and get what was sent meanwhile', async () => {
  const user = `resync-${Date.now()}`;
  const client = await TestClient.connect(h.wsUrl, await h.token(user));
  await client.waitForFrame('welcome');
  const before = await h.metric('herald_gateway_resyncs_total');

  // Redis drops the subscriber connection (as on a restart or a network cut); ioredis reconnects.
  await h.redis.client('KILL', 'TYPE', 'pubsub');
  expect(await client.waitForClose()).toBe(CloseCode.SERVER_RESTART);
  const id = await h.send([user], { while: 'away' });
  await waitFor(async () => (await h.metric('herald_gateway_resyncs_total')) === before + 1, { what: 'the resync counted' });

  const again = await TestClient.connect(h.wsUrl, await h.token(user));
  expect((await again.waitForMessages(1)).map((m) => m.id)).toEqual([id]);
  // Live delivery works on the new subscription.
  const live = await h.send([user], { live: true });
  expect((await again.waitForMessages(2)).map((m) => m.id)).toEqual([id, live]);
  await again.close();
}, 30_000);

it('a resync closes only the sessions open when it starts: clients back at once are not cut off at its deadline', async () => {
  // The resync's budget is the sessions' share of SHUTDOWN_TIMEOUT_MS: 40 % of 2500 ms. At 20 per
  // second the 5 sessions are closed one every 50 ms: the first clients are back while the
  // resync is still closing the others.
  const budgetMs = 1000;
  const started = await h.startGateway({ WS_CLOSE_RATE: 20, SHUTDOWN_TIMEOUT_MS: 2500 });
  const wsUrl = `${started.url.replace(/^http/, 'ws')}/ws`;
  const users = Array.from({ length: 5 }, (_, i) => `resync-back-${i}-${Date.now()}`);
  const back: TestClient[] = [];
  const first = await Promise.all(
    users.map(async (user) => {
      const token = await h.token(user);
      const client = await TestClient.connect(wsUrl, token);
      await client.waitForFrame('welcome');
      // Back as soon as the 1012 arrives, as a client library does.
      client.ws.once('close', (code) => {
        if (code === CloseCode.SERVER_RESTART) void TestClient.connect(wsUrl, token).then((again) => back.push(again));
      });
      return client;
    }),
  );
  const before = await fetchMetric(started.gateway.adminUrl!, 'herald_gateway_resyncs_total');

  await h.redis.client('KILL', 'TYPE', 'pubsub');
  await waitFor(async () => (await fetchMetric(started.gateway.adminUrl!, 'herald_gateway_resyncs_total')) === before + 1, {
    what: 'the resync started',
  });
  const resyncStarted = Date.now();
  expect(await Promise.all(first.map((c) => c.waitForClose()))).toEqual(users.map(() => CloseCode.SERVER_RESTART));
  await waitFor(() => back.length === users.length && back.every((c) => c.frames.some((f) => f.type === 'welcome')), {
    what: 'every client back and welcomed',
  });

  // The condition here is the clock itself: the resync's deadline has passed (plus a margin).
  // Before the fix the resync then cut off whatever the hub held, the sessions back included (1006).
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, resyncStarted + budgetMs + 500 - Date.now())));
  expect(back.map((c) => c.closeCode)).toEqual(users.map(() => undefined));

  // And they keep receiving messages.
  const ids = await Promise.all(users.map((user) => h.send([user], { after: 'resync' })));
  const byUser = await Promise.all(back.map(async (c) => (await c.waitForMessages(1)).map((m) => m.id)));
  expect(byUser.flat().sort()).toEqual([...ids].sort());
  await Promise.all(back.map((c) => c.close()));
  await started.gateway.close();
}, 30_000);

it('heartbeat: no ping while frames go both ways (a frame answers for a pong); written-to but silent is still cut off', async () => {
  const started = await h.startGateway({ HEARTBEAT_INTERVAL_MS: 2000 });
  const stamp = Date.now();
  const [busyUser, oneWayUser] = [`busy-${stamp}`, `one-way-${stamp}`];
  // Neither socket answers pings: only the frames it sends can keep it.
  const open = async (user: string) => {
    const ws = new WebSocket(started.wsUrl, { headers: { Authorization: `Bearer ${await h.token(user)}` }, autoPong: false });
    const seen = { pings: 0, code: undefined as number | undefined };
    ws.on('ping', () => seen.pings++);
    ws.on('close', (code) => (seen.code = code));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return { ws, seen };
  };
  const busy = await open(busyUser);
  const oneWay = await open(oneWayUser);
  // The busy client acks every message; the one-way client reads them and sends nothing.
  busy.ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as { type: string; id?: string };
    if (frame.type === 'message') busy.ws.send(JSON.stringify({ type: 'ack', ids: [frame.id] }));
  });
  let sending = true;
  const sender = (async () => {
    while (sending) {
      await h.send([busyUser, oneWayUser], { at: Date.now() });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();

  try {
    // Written to, but never heard from: pinged, and cut off at the next round (no close frame: 1006).
    expect(await waitFor(() => oneWay.seen.code, { what: 'the one-way client cut off', timeoutMs: 15_000 })).toBe(1006);
    expect(oneWay.seen.pings).toBeGreaterThan(0);
    // Frames both ways every 50 ms (rounds 2 s apart: room for a slow moment): never pinged, and its
    // acks kept it though it answers no ping.
    expect(busy.seen).toEqual({ pings: 0, code: undefined });
  } finally {
    sending = false;
    await sender;
    busy.ws.close();
    await started.gateway.close();
  }
}, 30_000);

it('heartbeat: cuts off a client that stops answering pings, keeps the one that answers', async () => {
  const started = await h.startGateway({ HEARTBEAT_INTERVAL_MS: 200 });
  const wsUrl = `${started.url.replace(/^http/, 'ws')}/ws`;
  const answering = await TestClient.connect(wsUrl, await h.token(`pong-${Date.now()}`));
  await answering.waitForFrame('welcome');
  // A client whose socket does not answer pings (ws answers them by default).
  const silent = new WebSocket(wsUrl, { headers: { Authorization: `Bearer ${await h.token(`silent-${Date.now()}`)}` }, autoPong: false });
  let silentCode: number | undefined;
  silent.on('close', (code) => (silentCode = code));
  await new Promise((resolve, reject) => silent.once('open', resolve).once('error', reject));

  // One round pings it, the next finds no pong and cuts the socket off (no close frame: 1006).
  expect(await waitFor(() => silentCode, { what: 'the silent client cut off' })).toBe(1006);
  expect(answering.closeCode).toBeUndefined();
  await waitFor(() => started.gateway.hub.size === 1, { what: 'only the answering session left' });
  await answering.close();
  await started.gateway.close();
}, 30_000);
