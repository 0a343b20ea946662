import { existsSync } from 'node:fs';
import { Cluster } from 'ioredis';
import { tcpAccepts } from './ports';
import { startRedisCluster, type RedisCluster } from './redis-cluster';
import { waitFor } from './wait';

function hostPort(node: string): { host: string; port: number } {
  const [host, port] = node.split(':');
  return { host, port: Number(port) };
}

async function closeClient(client: Cluster | undefined): Promise<void> {
  if (!client || client.status === 'end') return;
  await client.quit().catch(() => client.disconnect());
}

describe('startRedisCluster', () => {
  let redis: RedisCluster;
  let cluster: Cluster;
  let sub: Cluster | undefined;
  let startMs = 0;

  beforeAll(async () => {
    const t0 = Date.now();
    redis = await startRedisCluster();
    startMs = Date.now() - t0;
    cluster = new Cluster(redis.nodes.map(hostPort));
  }, 60_000);

  afterAll(async () => {
    // Safety net for failed tests; the last test already quit the clients and stopped the cluster.
    await closeClient(sub);
    await closeClient(cluster);
    await redis?.stop();
  });

  test('describes three masters on private ports of 127.0.0.1', () => {
    expect(redis.nodes).toHaveLength(3);
    for (const node of redis.nodes) {
      const { host, port } = hostPort(node);
      expect(host).toBe('127.0.0.1');
      expect(port).not.toBe(6379);
      expect(port + 10_000).toBeLessThanOrEqual(65_535);
    }
    expect(new Set(redis.nodes).size).toBe(3);
    expect(redis.nodesEnv).toBe(redis.nodes.join(','));
    expect(startMs).toBeLessThan(30_000);
  });

  test('serves ioredis Cluster: keys in 50 slots are stored and spread over the masters', async () => {
    const keys = Array.from({ length: 50 }, (_, i) => `herald:cluster-test:${i}`);
    const slots = await Promise.all(keys.map((key) => cluster.cluster('KEYSLOT', key) as Promise<number>));
    expect(new Set(slots).size).toBe(50);

    await Promise.all(keys.map((key, i) => cluster.set(key, `value-${i}`)));
    expect(await Promise.all(keys.map((key) => cluster.get(key)))).toEqual(keys.map((_, i) => `value-${i}`));

    const masters = cluster.nodes('master');
    expect(masters).toHaveLength(3);
    expect(masters.map((m) => `${m.options.host}:${m.options.port}`).sort()).toEqual([...redis.nodes].sort());
    const sizes = await Promise.all(masters.map((m) => m.dbsize()));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(50);
    expect(sizes.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
  });

  test('sharded pub/sub works through ioredis', async () => {
    sub = new Cluster(redis.nodes.map(hostPort), { shardedSubscribers: true });
    const received: Array<[string, string]> = [];
    sub.on('smessage', (channel: string, message: string) => received.push([channel, message]));
    await sub.ssubscribe('{u:alice}:notify');

    const receivers = await cluster.spublish('{u:alice}:notify', 'hello');
    expect(receivers).toBe(1);
    await waitFor(() => received.length > 0, { timeoutMs: 10_000, what: 'smessage on {u:alice}:notify' });
    expect(received).toEqual([['{u:alice}:notify', 'hello']]);
  });

  test('stop() ends every node, removes its directory, and is idempotent', async () => {
    // The cluster's temporary directory, as the nodes were told it (--dir).
    const [, dir] = (await cluster.nodes('master')[0].config('GET', 'dir')) as string[];
    expect(existsSync(dir)).toBe(true);

    await closeClient(sub);
    await closeClient(cluster);
    await redis.stop();
    await redis.stop();

    for (const node of redis.nodes) {
      const { host, port } = hostPort(node);
      expect(await tcpAccepts(host, port)).toBe(false);
      expect(await tcpAccepts(host, port + 10_000)).toBe(false);
    }
    expect(existsSync(dir)).toBe(false);
  });
});
