/**
 * The gateway's side of presence (src/presence.ts) on a real redis-server: a session is in its
 * user's presence hash by its welcome and gone once its socket is; a key that vanished is written
 * again by the next refresh; and Redis refusing presence writes (out of memory) costs the
 * connection nothing: it is counted in herald_gateway_presence_errors_total.
 */
import { gatewayOfInstance, keys, readPresence } from '@herald/redis';
import { TestClient, waitFor } from '@herald/testing';
import type { WelcomeFrame } from '@herald/types';
import { sharedHarness } from './harness';

const HEARTBEAT_INTERVAL_MS = 300;
const h = sharedHarness({ HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_INTERVAL_MS), GATEWAY_ID: 'gw-presence-test' });

let n = 0;
const user = () => `presence-${++n}-${process.pid}`;

async function connect(userId: string): Promise<{ client: TestClient; welcome: WelcomeFrame }> {
  const client = await TestClient.connect(h.wsUrl, await h.token(userId));
  return { client, welcome: await client.waitForFrame('welcome') };
}

it('writes a session before its welcome and removes it when the socket goes', async () => {
  const u = user();
  const { client, welcome } = await connect(u);
  expect(gatewayOfInstance(h.gateway.presence.instance)).toBe('gw-presence-test');
  const [p] = await readPresence(h.redis, [u]);
  expect(p).toEqual({ userId: u, online: true, sessions: [{ sessionId: welcome.sessionId, gatewayId: 'gw-presence-test', connectedAt: expect.any(String) }] });
  await client.close();
  await waitFor(async () => (await h.redis.exists(keys.presence(u))) === 0, { what: 'the session to be removed' });
});

it('the refresh writes again the sessions of a key that vanished (Redis lost it)', async () => {
  const u = user();
  const { client, welcome } = await connect(u);
  await h.redis.del(keys.presence(u));
  await waitFor(async () => (await h.redis.hkeys(keys.presence(u))).includes(welcome.sessionId), { what: 'the session written again' });
  expect((await readPresence(h.redis, [u]))[0].online).toBe(true);
  await client.close();
});

it('a presence write Redis refuses is counted; the connection is not affected', async () => {
  const u = user();
  const before = await h.metric('herald_gateway_presence_errors_total', 'op="open"');
  await h.redis.config('SET', 'maxmemory', '1');
  let connected: Awaited<ReturnType<typeof connect>>;
  try {
    connected = await connect(u);
    await waitFor(async () => (await h.metric('herald_gateway_presence_errors_total', 'op="open"')) > before, { what: 'the refused write counted' });
  } finally {
    await h.redis.config('SET', 'maxmemory', '0');
  }
  expect(await h.redis.exists(keys.presence(u))).toBe(0);
  // The session works: a message sent now is pushed to it; the next refresh writes its presence.
  const id = await h.send([u], { after: 'oom' });
  expect((await connected.client.waitForMessages(1))[0].id).toBe(id);
  await waitFor(async () => (await readPresence(h.redis, [u]))[0].online, { what: 'presence written by a refresh' });
  expect(connected.client.closeCode).toBeUndefined();
  await connected.client.close();
});
