/**
 * Stopping and resyncing: on close() readiness turns 503 at once and sessions are closed with
 * 1012 at WS_CLOSE_RATE (faster when the shutdown budget needs it); when the Redis subscriber
 * reconnects, notifications may have been lost, so sessions are closed with 1012 and their
 * clients reconnect and drain what was sent meanwhile.
 */
import { createLogger } from '@herald/logger';
import { TestClient, waitFor } from '@herald/testing';
import { CloseCode } from '@herald/types';
import { buildGateway, type Gateway } from '../src/gateway';
import { startHarness, type Harness } from './harness';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
}, 60_000);

afterAll(async () => {
  await h?.close();
}, 30_000);

const logger = createLogger({ app: 'gateway-test', level: 'silent' });

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

async function startGateway(env: Record<string, number>): Promise<{ gateway: Gateway; url: string }> {
  const config = { ...h.config, ...env };
  const gateway = await buildGateway({ config, logger });
  return { gateway, url: await gateway.listen() };
}

it('on close: readiness 503 at once, every session closed with 1012, spread at WS_CLOSE_RATE', async () => {
  const started = await startGateway({ WS_CLOSE_RATE: 20, SHUTDOWN_TIMEOUT_MS: 10_000 });
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
  const started = await startGateway({ WS_CLOSE_RATE: 1, SHUTDOWN_TIMEOUT_MS: 2000 });
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
