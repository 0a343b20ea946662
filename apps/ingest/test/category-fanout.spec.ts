/** fanOutToCategory on its own: chunked SSCAN walk, every member exactly once. */
import { Registry } from 'prom-client';
import { closeRedis, createRedis, keys, type HeraldRedis } from '@herald/redis';
import { startRedisServer, type RedisServer } from '@herald/testing';
import { fanOutToCategory } from '../src/fanout/category-fanout';
import type { Delivery } from '../src/fanout/deliver-to-users';
import { createIngestMetrics } from '../src/metrics';
import { ingestConfig } from './harness';

let server: RedisServer;
let redis: HeraldRedis;

beforeAll(async () => {
  server = await startRedisServer();
  redis = createRedis(ingestConfig(server.url), 'commands', 'fanout-test');
});

afterAll(async () => {
  if (redis) await closeRedis(redis);
  await server?.stop();
});

function delivery(messageId: string, inboxCap = 10): Delivery {
  return {
    redis,
    messageId,
    encoded: `0|${messageId}|big||{}`,
    inboxCap,
    metrics: createIngestMetrics(new Registry()),
  };
}

it('walks a set many chunks long and delivers to every member exactly once', async () => {
  const memberIds = Array.from({ length: 1234 }, (_, i) => `member-${i}`);
  await redis.sadd(keys.categoryMembers('big'), ...memberIds);

  const result = await fanOutToCategory(delivery('m-big'), 'big', 50);

  expect(result).toEqual({ recipients: memberIds.length, dropped: 0 });
  const pipeline = redis.pipeline();
  for (const id of memberIds) pipeline.lrange(keys.inbox(id), 0, -1);
  const inboxes = ((await pipeline.exec()) ?? []).map(([err, value]) => {
    expect(err).toBeNull();
    return value;
  });
  expect(inboxes).toEqual(memberIds.map(() => ['m-big']));
});

it('reports and counts what the inbox caps dropped', async () => {
  await redis.sadd(keys.categoryMembers('tiny'), 'tiny-1', 'tiny-2');
  const first = delivery('m-1', 1);
  await fanOutToCategory(first, 'tiny');
  const second = delivery('m-2', 1);
  const result = await fanOutToCategory(second, 'tiny');

  expect(result).toEqual({ recipients: 2, dropped: 2 });
  expect((await second.metrics.inboxDropped.get()).values[0]?.value).toBe(2);
  expect(await redis.lrange(keys.inbox('tiny-1'), 0, -1)).toEqual(['m-2']);
});

it('delivers nothing for a category without members', async () => {
  const keysBefore = await redis.dbsize();
  expect(await fanOutToCategory(delivery('m-none'), 'empty-category')).toEqual({ recipients: 0, dropped: 0 });
  expect(await redis.dbsize()).toBe(keysBefore);
});
