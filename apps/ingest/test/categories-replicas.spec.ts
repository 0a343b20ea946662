/**
 * Category member sets against two ingest processes (two replicas) on one redis-server: a PUT
 * repairs what a replica that died half-way through a change left behind, and concurrent
 * conflicting PUTs through both replicas end with every member set equal to its members'
 * categories.
 */
import { randomInt } from 'node:crypto';
import Redis from 'ioredis';
import { keys } from '@herald/redis';
import { signToken, startApp, startRedisServer, TEST_JWT_SECRET, type AppProcess, type RedisServer } from '@herald/testing';
import { Scope } from '@herald/types';

const CATEGORIES = ['news', 'sports', 'music', 'films', 'games'];
const PUTS = 200;

let server: RedisServer;
let redis: Redis;
let replicas: AppProcess[] = [];
let token: string;

beforeAll(async () => {
  server = await startRedisServer();
  redis = new Redis(server.url);
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    REDIS_URL: server.url,
  };
  replicas = await Promise.all([0, 1].map(() => startApp({ name: 'ingest', env })));
  token = await signToken('admin', { scope: Scope.CATEGORIES_WRITE });
}, 90_000);

afterAll(async () => {
  await Promise.all(replicas.map((app) => app.stop()));
  redis?.disconnect();
  await server?.stop();
});

async function put(replica: AppProcess, userId: string, categories: string[]): Promise<number> {
  const res = await fetch(`${replica.url}/v1/users/${userId}/categories`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ categories }),
  });
  return res.status;
}

const members = async (category: string) => (await redis.smembers(keys.categoryMembers(category))).sort();

it('a PUT removes the user from a member set a replica that died mid-change left it in', async () => {
  // A change from [news, sports] to [sports] whose replica died after the categories script,
  // before any member-set write: the user is still among news's members.
  await redis.sadd(keys.userCategories('crashed'), 'sports');
  await redis.sadd(keys.categoryIndex('crashed'), 'news', 'sports');
  await redis.sadd(keys.categoryMembers('news'), 'crashed');
  await redis.sadd(keys.categoryMembers('sports'), 'crashed');

  expect(await put(replicas[1], 'crashed', ['sports', 'music'])).toBe(204);

  expect(await members('news')).not.toContain('crashed');
  expect(await members('sports')).toContain('crashed');
  expect(await members('music')).toContain('crashed');
});

it(`ends consistent after ${PUTS} concurrent conflicting PUTs through two replicas`, async () => {
  // Two PUTs per user at the same time, one through each replica, of disjoint sets: what counts
  // is how a user's last two changes interleave, so many users make many chances to get it wrong.
  const users = Array.from({ length: PUTS / 2 }, (_, i) => `racer-${i}`);
  const statuses = await Promise.all(
    users.flatMap((user) => {
      const mine = CATEGORIES.filter(() => randomInt(2) === 1);
      const rest = CATEGORIES.filter((c) => !mine.includes(c));
      return [put(replicas[0], user, mine), put(replicas[1], user, rest)];
    }),
  );
  expect(statuses.filter((s) => s !== 204)).toEqual([]);

  for (const category of CATEGORIES) {
    const want = [];
    for (const user of users) if (await redis.sismember(keys.userCategories(user), category)) want.push(user);
    const got = (await members(category)).filter((m) => users.includes(m));
    expect([category, got]).toEqual([category, want.sort()]);
  }
  for (const user of users) expect(await redis.exists(keys.categoryIndex(user))).toBe(0);
});
