/**
 * On a Redis Cluster the gateway subscribes through one connection per shard. When Redis drops
 * those connections, notifications published meanwhile are lost: once ioredis has subscribed
 * again the gateway closes its sessions with 1012, and the clients reconnect and drain.
 */
import Redis from 'ioredis';
import { startRedisCluster, TestClient, waitFor, type RedisCluster } from '@herald/testing';
import { CloseCode } from '@herald/types';
import { startHarness, type Harness } from './harness';

let cluster: RedisCluster;
let h: Harness;

beforeAll(async () => {
  cluster = await startRedisCluster();
  h = await startHarness({ REDIS_CLUSTER_NODES: cluster.nodesEnv });
}, 90_000);

afterAll(async () => {
  await h?.close();
  await cluster?.stop();
}, 60_000);

/** CLIENT KILL TYPE pubsub on every master: the shard subscribers' connections end. */
async function dropSubscribers(): Promise<void> {
  await Promise.all(
    cluster.nodes.map(async (node) => {
      const [host, port] = node.split(':');
      const admin = new Redis({ host, port: Number(port), lazyConnect: true });
      try {
        await admin.connect();
        await admin.client('KILL', 'TYPE', 'pubsub');
      } finally {
        admin.disconnect();
      }
    }),
  );
}

it('closes sessions with 1012 once the shard subscribers are back; clients reconnect and get what was sent meanwhile', async () => {
  const user = `cluster-resync-${Date.now()}`;
  const client = await TestClient.connect(h.wsUrl, await h.token(user));
  await client.waitForFrame('welcome');
  const before = await h.metric('herald_gateway_resyncs_total');

  await dropSubscribers();
  expect(await client.waitForClose(20_000)).toBe(CloseCode.SERVER_RESTART);
  expect(await h.metric('herald_gateway_resyncs_total')).toBeGreaterThan(before);
  const id = await h.send([user], { while: 'away' });

  const again = await waitFor(
    async () => {
      const c = await TestClient.connect(h.wsUrl, await h.token(user));
      const welcomed = await c.waitForFrame('welcome', 5_000).then(() => true, () => false);
      if (welcomed) return c;
      await c.close();
      return undefined;
    },
    { timeoutMs: 30_000, what: 'a new session' },
  );
  expect((await again.waitForMessages(1)).map((m) => m.id)).toEqual([id]);
  const live = await h.send([user], { live: true });
  expect((await again.waitForMessages(2)).map((m) => m.id)).toEqual([id, live]);
  await again.close();
}, 90_000);
