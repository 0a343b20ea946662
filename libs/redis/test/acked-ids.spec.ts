/**
 * removeAcked on one redis-server: a write window's acknowledged ids for many users, in calls of
 * at most REMOVE_CHUNK ids written into one buffer: exactly the ids asked for leave, whatever
 * their count per user, and a user whose inbox key is broken costs only its own ids.
 */
import { keys, REMOVE_CHUNK, removeAcked, type HeraldRedis } from '../src';
import { usePrivateRedis } from './private-redis';

let redis: HeraldRedis;
usePrivateRedis('acked-ids', (_server, commands) => (redis = commands));

const scriptCalls = async () => {
  const info = await redis.info('commandstats');
  return [...info.matchAll(/^cmdstat_(eval|evalsha):calls=(\d+)/gm)].reduce((n, m) => n + Number(m[2]), 0);
};

async function inboxes(users: readonly string[]): Promise<string[][]> {
  return Promise.all(users.map((u) => redis.lrange(keys.inbox(u), 0, -1)));
}

it('removes exactly the ids asked for, from each user, in calls of at most REMOVE_CHUNK ids', async () => {
  // 300 users with 1 to 5 ids acked of 6, and one with more ids than a call carries.
  const users = Array.from({ length: 300 }, (_, i) => `acked-${i}`);
  const many = 'acked-many';
  const held = (u: string, n: number) => Array.from({ length: n }, (_, i) => `${u}:m${i}`);
  for (const u of users) await redis.rpush(keys.inbox(u), ...held(u, 6));
  await redis.rpush(keys.inbox(many), ...held(many, REMOVE_CHUNK + 250));
  const acked = new Map<string, Set<string>>(users.map((u, i) => [u, new Set(held(u, 1 + (i % 5)))]));
  acked.set(many, new Set(held(many, REMOVE_CHUNK + 200)));
  const total = [...acked.values()].reduce((n, ids) => n + ids.size, 0);

  await removeAcked(redis, new Map([['loads-the-script', ['none']]]));
  const before = await scriptCalls();
  expect(await removeAcked(redis, acked)).toBe(total);
  expect((await scriptCalls()) - before).toBe(Math.ceil(total / REMOVE_CHUNK));
  expect(await inboxes(users)).toEqual(users.map((u, i) => held(u, 6).slice(1 + (i % 5))));
  expect(await redis.lrange(keys.inbox(many), 0, -1)).toEqual(held(many, REMOVE_CHUNK + 250).slice(REMOVE_CHUNK + 200));
});

it('costs a user whose inbox key is broken only its own ids', async () => {
  const [before, broken, after] = ['broken-a', 'broken-b', 'broken-c'];
  await redis.rpush(keys.inbox(before), 'a1', 'a2');
  await redis.set(keys.inbox(broken), 'not a list');
  await redis.rpush(keys.inbox(after), 'c1');
  const acked = new Map([
    [before, ['a1']],
    [broken, ['b1']],
    [after, ['c1']],
  ]);
  expect(await removeAcked(redis, acked)).toBe(2);
  expect(await inboxes([before, after])).toEqual([['a2'], []]);
  expect(await redis.get(keys.inbox(broken))).toBe('not a list');
});
