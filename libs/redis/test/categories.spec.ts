/**
 * Category member sets against the users' categories, on one redis-server and on a 3-master
 * Redis Cluster (where the member sets live on other slots than the user's keys): a change
 * repairs what a process that died half-way left, and concurrent conflicting changes from two
 * connections (two ingest replicas) end with every member set equal to its members' categories.
 */
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRedisCluster, startRedisServer, type RedisCluster, type RedisServer } from '@herald/testing';
import { closeRedis, createRedis, getUserCategories, keys, replaceUserCategories, type HeraldRedis } from '../src';

const CATEGORIES = ['c0', 'c1', 'c2', 'c3', 'c4'];
/** The second change of a pair starts within this many ms of the first. */
const JITTER_MS = 3;

describe.each([
  ['one redis-server', 'single'],
  ['a 3-master Redis Cluster', 'cluster'],
] as const)('category membership, %s', (_label, mode) => {
  let server: RedisServer | undefined;
  let cluster: RedisCluster | undefined;
  let a: HeraldRedis;
  let b: HeraldRedis;

  beforeAll(async () => {
    let config: Parameters<typeof createRedis>[0];
    if (mode === 'cluster') {
      cluster = await startRedisCluster();
      const nodes = cluster.nodes.map((node) => ({ host: node.split(':')[0], port: Number(node.split(':')[1]) }));
      config = { REDIS_URL: undefined, REDIS_CLUSTER_NODES: nodes };
    } else {
      server = await startRedisServer();
      config = { REDIS_URL: server.url, REDIS_CLUSTER_NODES: undefined };
    }
    a = createRedis(config, 'commands', 'replica-a');
    b = createRedis(config, 'commands', 'replica-b');
  }, 60_000);

  afterAll(async () => {
    await Promise.all([a, b].filter(Boolean).map(closeRedis));
    await server?.stop();
    await cluster?.stop();
  });

  const members = async (category: string) => (await a.smembers(keys.categoryMembers(category))).sort();

  /** Of `users`, every member set holds exactly those whose categories name it. */
  async function expectConsistent(users: string[]): Promise<void> {
    const expected = new Map(CATEGORIES.map((c) => [c, [] as string[]]));
    for (const user of users) for (const c of await getUserCategories(a, user)) expected.get(c)!.push(user);
    for (const [category, want] of expected) {
      const got = (await members(category)).filter((m) => users.includes(m));
      expect([category, got]).toEqual([category, want.sort()]);
    }
  }

  it('repairs, on the next change, a member set a dead process left the user in', async () => {
    const user = `crashed-${mode}`;
    // A change from [c0, c1] to [c1] whose process died after the categories script, before any
    // member-set write: the user is still in c0's members.
    await a.sadd(keys.userCategories(user), 'c1');
    await a.sadd(keys.categoryIndex(user), 'c0', 'c1');
    await a.sadd(keys.categoryMembers('c0'), user);
    await a.sadd(keys.categoryMembers('c1'), user);

    await replaceUserCategories(b, user, ['c1', 'c2']);

    expect(await members('c0')).not.toContain(user);
    expect(await members('c1')).toContain(user);
    expect(await members('c2')).toContain(user);
    expect(await getUserCategories(a, user)).toEqual(['c1', 'c2']);
    // At rest only the categories remain: the index is dropped once the member sets agree.
    expect(await a.exists(keys.categoryIndex(user))).toBe(0);
  });

  it('ends consistent after 200 concurrent conflicting changes from two connections', async () => {
    // Two changes per user at once, one from each connection, of disjoint sets: what counts is
    // how a user's last two changes interleave, so many users make many chances to get it wrong.
    const users = Array.from({ length: 100 }, (_, i) => `racer-${mode}-${i}`);
    await Promise.all(
      users.flatMap((user) => {
        const mine = CATEGORIES.filter(() => randomInt(2) === 1);
        const rest = CATEGORIES.filter((c) => !mine.includes(c));
        const later = async () => {
          // Random skew, not a condition: it varies how the two changes interleave.
          await sleep(randomInt(JITTER_MS));
          await replaceUserCategories(b, user, rest);
        };
        return [replaceUserCategories(a, user, mine), later()];
      }),
    );
    await expectConsistent(users);
    for (const user of users) expect(await a.exists(keys.categoryIndex(user))).toBe(0);
  });
});
