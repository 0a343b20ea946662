/**
 * POST /v1/messages/batch on a real 3-master Redis Cluster: bodies and inboxes on many slots and
 * nodes, each user's messages in the batch's order, a category item queued, and a retried batch
 * answered with the same ids without writing an inbox again.
 */
import { closeRedis, createRedis, keys, type HeraldRedis } from '@herald/redis';
import { startRedisCluster, type RedisCluster } from '@herald/testing';
import type { Ingest } from '../src/app';
import { bearer, ingestConfig, makeTokens, startIngest, type Tokens } from './harness';
import { idsOf, postBatch } from './batch-support';

let cluster: RedisCluster;
let redis: HeraldRedis;
let ingest: Ingest;
let tokens: Tokens;

beforeAll(async () => {
  cluster = await startRedisCluster();
  // REDIS_CLUSTER_NODES wins over the REDIS_URL the helper takes.
  const config = ingestConfig('redis://127.0.0.1:1', { REDIS_CLUSTER_NODES: cluster.nodesEnv });
  redis = createRedis(config, 'commands', 'batch-cluster-test');
  ingest = await startIngest(config);
  tokens = await makeTokens();
}, 60_000);

afterAll(async () => {
  await ingest?.close();
  if (redis) await closeRedis(redis);
  await cluster?.stop();
}, 30_000);

const users = Array.from({ length: 30 }, (_, i) => `cluster-batch-${i}`);
const inboxes = () => Promise.all(users.map((u) => redis.lrange(keys.inbox(u), 0, -1)));

it('delivers every user its messages in order across nodes, and a retry writes nothing twice', async () => {
  const items = Array.from({ length: 60 }, (_, i) =>
    i === 30
      ? { category: 'cluster-news', payload: i, idempotencyKey: `cb-${i}` }
      : { userIds: users.filter((_, u) => (u + i) % 3 === 0), payload: { i }, idempotencyKey: `cb-${i}` },
  );
  const first = await postBatch(ingest, tokens.messages, { messages: items });
  expect(first.status).toBe(200);
  const ids = idsOf(first.results);
  const expected = users.map((_, u) => ids.filter((_, i) => i !== 30 && (u + i) % 3 === 0));
  expect(await inboxes()).toEqual(expected);
  const fanout = await ingest.app.inject({ url: `/v1/messages/${ids[30]}/fanout`, headers: bearer(tokens.messages) });
  expect(fanout.json()).toMatchObject({ category: 'cluster-news' });

  const again = await postBatch(ingest, tokens.messages, { messages: items });
  expect(idsOf(again.results)).toEqual(ids);
  expect(await inboxes()).toEqual(expected);
}, 60_000);
