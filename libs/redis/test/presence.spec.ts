/**
 * Presence in Redis (presence.ts), on a private redis-server and on a 3-master Redis Cluster:
 * sessions written at open and removed at close, read back per user in the order asked and
 * counted only while their gateway instance is live (by Redis's clock), keys' TTL restarted by
 * the refresh, which names the keys that are gone.
 */
import { randomUUID } from 'node:crypto';
import { startRedisCluster, startRedisServer, waitFor } from '@herald/testing';
import {
  beatPresence,
  closePresence,
  closeRedis,
  createRedis,
  gatewayOfInstance,
  keys,
  openPresence,
  presenceInstance,
  readPresence,
  refreshPresence,
  retirePresence,
  type HeraldRedis,
} from '../src';

const TTL_MS = 60_000;
/** Long enough that a beat cannot run out between a write and the read that follows it. */
const LIVE_MS = 60_000;

describe.each(['single node', 'cluster'] as const)('presence on a %s', (mode) => {
  let redis: HeraldRedis;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    if (mode === 'cluster') {
      const cluster = await startRedisCluster();
      const nodes = cluster.nodes.map((node) => ({ host: node.split(':')[0], port: Number(node.split(':')[1]) }));
      redis = createRedis({ REDIS_URL: undefined, REDIS_CLUSTER_NODES: nodes }, 'commands', 'presence-test');
      stop = () => cluster.stop();
    } else {
      const server = await startRedisServer();
      redis = createRedis({ REDIS_URL: server.url, REDIS_CLUSTER_NODES: undefined }, 'commands', 'presence-test');
      stop = () => server.stop();
    }
  }, 60_000);

  afterAll(async () => {
    if (redis) await closeRedis(redis);
    await stop?.();
  }, 30_000);

  const user = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

  it('answers each asked id in order: the sessions of live instances, oldest first, unknown users offline', async () => {
    const gw1 = presenceInstance('gw-1');
    const gw2 = presenceInstance('gw|2');
    expect(gatewayOfInstance(gw2)).toBe('gw|2');
    await beatPresence(redis, gw1, LIVE_MS);
    await beatPresence(redis, gw2, LIVE_MS);
    // Many users, so that on the Cluster their keys are on every master.
    const users = Array.from({ length: 60 }, (_, i) => user(`u${i}`));
    const at = Date.UTC(2026, 10, 26, 1, 0, 0);
    await openPresence(redis, gw1, users.map((userId, i) => ({ userId, sessionId: `s1-${i}`, connectedAtMs: at + 2000 })), TTL_MS);
    await openPresence(redis, gw2, users.filter((_, i) => i % 2 === 0).map((userId, i) => ({ userId, sessionId: `s2-${i * 2}`, connectedAtMs: at })), TTL_MS);

    const nobody = user('nobody');
    const asked = [users[1], nobody, users[0], users[1], ...users.slice(2)];
    const read = await readPresence(redis, asked);
    expect(read.map((p) => p.userId)).toEqual(asked);
    expect(read[0]).toEqual({
      userId: users[1],
      online: true,
      sessions: [{ sessionId: 's1-1', gatewayId: 'gw-1', connectedAt: '2026-11-26T01:00:02.000Z' }],
    });
    expect(read[1]).toEqual({ userId: nobody, online: false, sessions: [] });
    expect(read[2]).toEqual({
      userId: users[0],
      online: true,
      sessions: [
        { sessionId: 's2-0', gatewayId: 'gw|2', connectedAt: '2026-11-26T01:00:00.000Z' },
        { sessionId: 's1-0', gatewayId: 'gw-1', connectedAt: '2026-11-26T01:00:02.000Z' },
      ],
    });
    expect(read[3]).toEqual(read[0]);
    expect(read.slice(4).map((p) => p.sessions.length)).toEqual(users.slice(2).map((_, i) => (i % 2 === 0 ? 2 : 1)));

    // A closed session goes; a user's last one takes the key with it.
    await closePresence(redis, users[0], 's2-0');
    await closePresence(redis, users[1], 's1-1');
    const [first, second] = await readPresence(redis, [users[0], users[1]]);
    expect(first.sessions.map((s) => s.sessionId)).toEqual(['s1-0']);
    expect(second).toEqual({ userId: users[1], online: false, sessions: [] });
    expect(await redis.exists(keys.presence(users[1]))).toBe(0);
    expect(await redis.pttl(keys.presence(users[0]))).toBeGreaterThan(0);

    // A retired instance's sessions stop counting at once, though they are still written.
    await retirePresence(redis, gw2);
    const after = await readPresence(redis, [users[2]]);
    expect(after[0].sessions.map((s) => s.gatewayId)).toEqual(['gw-1']);
    expect(await redis.hlen(keys.presence(users[2]))).toBe(2);
  });

  it("counts a session only while its instance's last beat lasts, by Redis's clock", async () => {
    const gw = presenceInstance('gw-short');
    const never = presenceInstance('gw-never');
    const u = user('beat');
    await openPresence(redis, never, [{ userId: u, sessionId: 'ghost', connectedAtMs: Date.now() }], TTL_MS);
    expect((await readPresence(redis, [u]))[0].online).toBe(false);

    await beatPresence(redis, gw, LIVE_MS);
    await openPresence(redis, gw, [{ userId: u, sessionId: 'live', connectedAtMs: Date.now() }], TTL_MS);
    expect((await readPresence(redis, [u]))[0].sessions.map((s) => s.sessionId)).toEqual(['live']);

    // A last beat that lasts 300 ms: then the instance is dead, without anyone deleting anything.
    const until = await beatPresence(redis, gw, 300);
    expect(Number(await redis.zscore(keys.presenceGateways, gw))).toBe(until);
    await waitFor(async () => !(await readPresence(redis, [u]))[0].online, { timeoutMs: 10_000, intervalMs: 50, what: 'the beat to run out' });
    expect(await redis.hlen(keys.presence(u))).toBe(2);
  });

  it('a beat prunes instances dead for over an hour, and only those', async () => {
    const [now] = await redis.time();
    const old = presenceInstance('gw-old');
    const recent = presenceInstance('gw-recent');
    await redis.zadd(keys.presenceGateways, Number(now) * 1000 - 3_700_000, old, Number(now) * 1000 - 60_000, recent);
    await beatPresence(redis, presenceInstance('gw-pruner'), LIVE_MS);
    expect(await redis.zscore(keys.presenceGateways, old)).toBeNull();
    expect(await redis.zscore(keys.presenceGateways, recent)).not.toBeNull();
  });

  it('the refresh restarts the TTL of keys that exist and names the users whose key is gone', async () => {
    const gw = presenceInstance('gw-refresh');
    const kept = Array.from({ length: 20 }, (_, i) => user(`kept${i}`));
    const gone = [user('gone-a'), user('gone-b')];
    await openPresence(redis, gw, kept.map((userId) => ({ userId, sessionId: 's', connectedAtMs: 1 })), 5000);
    expect(await refreshPresence(redis, [gone[0], ...kept, gone[1]], TTL_MS)).toEqual(gone);
    const ttls = await Promise.all(kept.map((u) => redis.pttl(keys.presence(u))));
    for (const ttl of ttls) expect(ttl).toBeGreaterThan(5000);
    expect(await Promise.all(gone.map((u) => redis.exists(keys.presence(u))))).toEqual([0, 0]);
  });
});
