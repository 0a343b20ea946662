/**
 * What Web Push needs from Redis (issue 19), on a real redis-server: deliver-4.lua reports a user
 * no gateway is subscribed for (SPUBLISH reached no one) when asked, and a user's subscriptions
 * are bounded, saved once per endpoint, and removed as gone only while unchanged.
 */
import Redis from 'ioredis';
import { startRedisCluster, type RedisServer } from '@herald/testing';
import {
  closeRedis,
  createRedis,
  deletePushSubscription,
  deliverToUsers,
  keys,
  listPushSubscriptions,
  pushSubscriptionId,
  refNote,
  removeGonePushSubscription,
  savePushSubscription,
  sendToUsers,
  newMessage,
  type HeraldRedis,
  type StoredPushSubscription,
} from '../src';
import { usePrivateRedis } from './private-redis';

let server: RedisServer;
let redis: HeraldRedis;
usePrivateRedis('webpush-test', (s, r) => ([server, redis] = [s, r]));

it('reports the users whose channel had no subscriber, only with reportOffline, and not for a skipped delivery', async () => {
  const sub = new Redis(server.url);
  try {
    await sub.ssubscribe(keys.userChannel('here'));
    const opts = { cap: 10, inboxTtlSeconds: 60, reportOffline: true };
    const counts = await deliverToUsers(redis, 'm1', refNote('m1'), ['here', 'away', 'gone'], opts);
    expect(counts.offlineUserIds?.sort()).toEqual(['away', 'gone']);
    // Without the option nothing is collected (the callers from before see the same counts).
    expect((await deliverToUsers(redis, 'm2', refNote('m2'), ['away'], { cap: 10, inboxTtlSeconds: 60 })).offlineUserIds).toBeUndefined();
    // A delivery `unique` skips is no new message: no nudge.
    const again = await deliverToUsers(redis, 'm1', refNote('m1'), ['away'], { ...opts, unique: true });
    expect({ skipped: again.skipped, offline: again.offlineUserIds }).toEqual({ skipped: 1, offline: undefined });
    // Through the write protocol.
    const message = newMessage({ payload: 1, ttlMs: 60_000, category: null });
    expect((await sendToUsers(redis, message, ['here', 'away'], opts)).offlineUserIds).toEqual(['away']);
  } finally {
    sub.disconnect();
  }
});

/**
 * On a Cluster each user's channel lives on its slot's master, where deliver-4.lua runs its
 * SPUBLISH; a gateway's sharded subscriber (the `subscriber` role, as live-router.ts) subscribes
 * there too. Users spread over the three masters.
 */
it('on a 3-master Cluster, reports exactly the users no sharded subscriber listens for', async () => {
  const cluster = await startRedisCluster();
  const config = { REDIS_URL: undefined, REDIS_CLUSTER_NODES: cluster.nodes.map((n) => ({ host: n.split(':')[0], port: Number(n.split(':')[1]) })) };
  const commands = createRedis(config, 'commands', 'webpush-cluster-test');
  const listener = createRedis(config, 'subscriber', 'webpush-cluster-gateway');
  try {
    const users = Array.from({ length: 30 }, (_, i) => `cluster-user-${i}`);
    const online = users.filter((_, i) => i % 3 === 0);
    for (const user of online) await listener.ssubscribe(keys.userChannel(user));
    const message = newMessage({ payload: 1, ttlMs: 60_000, category: null });
    const counts = await sendToUsers(commands, message, users, { cap: 10, inboxTtlSeconds: 60, reportOffline: true });
    expect(counts.delivered).toBe(users.length);
    expect([...(counts.offlineUserIds ?? [])].sort()).toEqual(users.filter((u) => !online.includes(u)).sort());
  } finally {
    await closeRedis(listener);
    await closeRedis(commands);
    await cluster.stop();
  }
}, 60_000);

const sub = (endpoint: string, p256dh = 'key-a'): StoredPushSubscription => ({
  id: pushSubscriptionId(endpoint),
  endpoint,
  keys: { p256dh, auth: 'auth' },
  userAgent: 'ua',
  createdAt: new Date().toISOString(),
});

it('keeps at most `max` subscriptions per user, one per endpoint', async () => {
  const user = 'subs';
  expect(await savePushSubscription(redis, user, sub('https://p/1'), 2)).toBe(true);
  expect(await savePushSubscription(redis, user, sub('https://p/2'), 2)).toBe(true);
  expect(await savePushSubscription(redis, user, sub('https://p/3'), 2)).toBe(false);
  // The same endpoint again replaces its entry, even at the bound.
  expect(await savePushSubscription(redis, user, sub('https://p/1', 'key-b'), 2)).toBe(true);
  const list = await listPushSubscriptions(redis, user);
  expect(list.map((s) => [s.endpoint, s.keys.p256dh]).sort()).toEqual([
    ['https://p/1', 'key-b'],
    ['https://p/2', 'key-a'],
  ]);
  expect(await deletePushSubscription(redis, user, pushSubscriptionId('https://p/2'))).toBe(true);
  expect(await deletePushSubscription(redis, user, pushSubscriptionId('https://p/2'))).toBe(false);
});

it('removes a gone subscription only while it still has the keys the push was made with', async () => {
  const user = 'gone';
  const old = sub('https://p/x', 'old');
  await savePushSubscription(redis, user, old, 5);
  // The browser subscribed again with new keys before the 410 came back: it stays.
  await savePushSubscription(redis, user, sub('https://p/x', 'new'), 5);
  expect(await removeGonePushSubscription(redis, user, old)).toBe(false);
  expect(await redis.hlen(keys.pushSubscriptions(user))).toBe(1);
  expect(await removeGonePushSubscription(redis, user, sub('https://p/x', 'new'))).toBe(true);
  expect(await redis.exists(keys.pushSubscriptions(user))).toBe(0);
});
