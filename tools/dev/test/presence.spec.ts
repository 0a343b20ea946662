/**
 * Presence end to end, against real processes: two gateways and ingest on a private Redis, real
 * WebSocket clients, `GET /v1/presence` over HTTP. A user who connects is online with the session
 * of its welcome and its gateway's id; one who leaves is offline; a user on two gateways has both
 * sessions; a gateway SIGKILLed stops counting once its last beat runs out (a heartbeat period),
 * before its users' keys expire, while the other gateway's users stay online.
 */
import { hostname } from 'node:os';
import Redis from 'ioredis';
import { keys } from '@herald/redis';
import { signToken, startTestStack, TestClient, waitFor, type Stack } from '@herald/testing';
import { Scope, type WelcomeFrame } from '@herald/types';

/** Short, so that the SIGKILL test waits about a second. */
const HEARTBEAT_INTERVAL_MS = 1000;

interface Presence {
  userId: string;
  online: boolean;
  sessions: Array<{ sessionId: string; gatewayId: string; connectedAt: string }>;
}

let stack: Stack;
let redis: Redis;
let reader: string;

beforeAll(async () => {
  ({ stack } = await startTestStack(
    { EXPOSURE_TOPIC: 'exposures-presence', HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_INTERVAL_MS) },
    { withoutConsumer: true, gateways: 2 },
  ));
  redis = new Redis(stack.redis!.url);
  reader = await signToken('presence-reader', { scope: Scope.PRESENCE_READ });
}, 120_000);

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
}, 60_000);

let seq = 0;
const newUser = (label: string) => `presence-${label}-${process.pid}-${++seq}`;

async function presence(...userIds: string[]): Promise<Presence[]> {
  const res = await fetch(`${stack.apps.ingest.url}/v1/presence?userIds=${userIds.join(',')}`, { headers: { authorization: `Bearer ${reader}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { presence: Presence[] }).presence;
}

/** Connects `userId` to gateway `g`; resolves with the client and its welcome. */
async function connect(userId: string, g: number): Promise<{ client: TestClient; welcome: WelcomeFrame }> {
  const client = await TestClient.connect(`${stack.gateways[g].url.replace(/^http/, 'ws')}/ws`, await signToken(userId));
  return { client, welcome: await client.waitForFrame('welcome') };
}

/** GATEWAY_ID's default, `<hostname>-<pid>-<random>`, names the process. */
const gatewayIdOf = (g: number) => new RegExp(`^${hostname()}-${stack.gateways[g].child.pid}-[0-9a-f]{6}$`);

const untilPresence = (userId: string, done: (p: Presence) => boolean, what: string) =>
  waitFor(async () => done((await presence(userId))[0]), { timeoutMs: 15_000, intervalMs: 50, what });

it('a user who connects is online with its session and gateway by its welcome; offline once it leaves', async () => {
  const user = newUser('one');
  const before = Date.now();
  const { client, welcome } = await connect(user, 0);
  // Written before the connect's snapshot, on the same connection: no wait needed.
  const [p, nobody] = await presence(user, newUser('nobody'));
  expect(p).toEqual({
    userId: user,
    online: true,
    sessions: [{ sessionId: welcome.sessionId, gatewayId: expect.stringMatching(gatewayIdOf(0)), connectedAt: expect.any(String) }],
  });
  expect(Date.parse(p.sessions[0].connectedAt)).toBeGreaterThanOrEqual(before - 1000);
  expect(nobody.online).toBe(false);

  await client.close();
  await untilPresence(user, (q) => !q.online && q.sessions.length === 0, 'the user to be offline');
  expect(await redis.exists(keys.presence(user))).toBe(0);
}, 30_000);

it('a user on two gateways has both sessions, and keeps the other when one leaves', async () => {
  const user = newUser('two');
  const a = await connect(user, 0);
  const b = await connect(user, 1);
  const [p] = await presence(user);
  expect(p.online).toBe(true);
  expect(p.sessions.map((s) => s.sessionId).sort()).toEqual([a.welcome.sessionId, b.welcome.sessionId].sort());
  const gatewayOf = new Map(p.sessions.map((s) => [s.sessionId, s.gatewayId]));
  expect(gatewayOf.get(a.welcome.sessionId)).toMatch(gatewayIdOf(0));
  expect(gatewayOf.get(b.welcome.sessionId)).toMatch(gatewayIdOf(1));

  await a.client.close();
  await untilPresence(user, (q) => q.sessions.length === 1, 'the first session to go');
  expect((await presence(user))[0]).toMatchObject({ online: true, sessions: [{ sessionId: b.welcome.sessionId }] });
  await b.client.close();
  await untilPresence(user, (q) => !q.online, 'the user to be offline');
}, 30_000);

it("a gateway SIGKILLed: its users go offline by its beat running out, before their keys expire; the other's stay", async () => {
  const doomed = newUser('killed');
  const survivor = newUser('survivor');
  const k = await connect(doomed, 1);
  const s = await connect(survivor, 0);
  expect((await presence(doomed, survivor)).map((p) => p.online)).toEqual([true, true]);

  stack.gateways[1].child.kill('SIGKILL');
  await untilPresence(doomed, (q) => !q.online, 'the killed gateway to stop counting');
  // Nobody removed the session: the registry said the gateway is dead (the key lives three heartbeats).
  expect(await redis.hkeys(keys.presence(doomed))).toEqual([k.welcome.sessionId]);
  const [, alive] = await presence(doomed, survivor);
  expect(alive).toMatchObject({ online: true, sessions: [{ sessionId: s.welcome.sessionId }] });
  // The survivor's gateway restarts its key's TTL every heartbeat; the dead gateway's key goes on its own.
  const expiry = Number(await redis.call('PEXPIRETIME', keys.presence(survivor)));
  await waitFor(async () => Number(await redis.call('PEXPIRETIME', keys.presence(survivor))) > expiry, { timeoutMs: 15_000, intervalMs: 50, what: 'a refresh' });
  await waitFor(async () => (await redis.exists(keys.presence(doomed))) === 0, { timeoutMs: 15_000, intervalMs: 100, what: 'the key to expire' });
  expect((await presence(survivor))[0].online).toBe(true);
  await s.client.close();
  await k.client.close();
}, 60_000);
