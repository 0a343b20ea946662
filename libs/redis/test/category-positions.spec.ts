/**
 * advancePositions on one redis-server writes its script calls straight into one buffer
 * (encoded-script.ts, resp-writer.ts): what Redis runs must be exactly the positions asked for,
 * whatever their text and however many; the script must come back when Redis has lost it; and a
 * buffer must not be reused while ioredis may still send a call it carries.
 */
import { advancePositions, closeRedis, createRedis, keys, POSITIONS_PER_CALL, type HeraldRedis } from '../src';
import { movesOf } from './position-moves';
import { usePrivateRedis } from './private-redis';

let url = '';
let redis: HeraldRedis;
usePrivateRedis('category-positions', (server, commands) => {
  url = server.url;
  redis = commands;
});

/** Users as members of `categories`, with no position yet. */
async function members(users: readonly string[], categories: (i: number) => string[]): Promise<void> {
  const pipeline = redis.pipeline();
  users.forEach((u, i) => pipeline.sadd(keys.userCategories(u), ...categories(i)));
  await pipeline.exec();
}

async function positionsOf(users: readonly string[]): Promise<Array<Record<string, string>>> {
  const pipeline = redis.pipeline();
  for (const u of users) pipeline.hgetall(keys.categoryPositions(u));
  return (await pipeline.exec())!.map(([err, value]) => {
    if (err) throw err;
    return value as Record<string, string>;
  });
}

const evalCalls = async (command: 'eval' | 'evalsha') =>
  Number((await redis.info('commandstats')).match(new RegExp(`cmdstat_${command}:calls=(\\d+)`))?.[1] ?? 0);

it('moves exactly the positions asked for, whatever their text and however many users', async () => {
  // Enough users for many calls and a buffer that grows past its first size; text of 1 to 4 bytes a character.
  const users = Array.from({ length: 15 * POSITIONS_PER_CALL + 7 }, (_, i) => [`ascii-${i}`, `zoë-${i}`, `用户-${i}`, `🎉-${i}`][i % 4]);
  const categories = (i: number) => ['news', `café-${i % 7}`, `🎉 launch ${'x'.repeat(i % 50)}`];
  await members(users, (i) => categories(i).slice(0, 1 + (i % 3)));
  const entry = (i: number) => `${1_700_000_000_000 + i}-${i % 5}`;
  const moves = movesOf(
    users.map((u, i) => [u, [...categories(i).flatMap((c) => [c, entry(i)]), 'not-a-member', entry(i)]]),
  );
  const expected = users.map((_, i) => Object.fromEntries(categories(i).slice(0, 1 + (i % 3)).map((c) => [c, entry(i)])));
  const moved = expected.reduce((n, p) => n + Object.keys(p).length, 0);

  expect(await advancePositions(redis, moves)).toBe(moved);
  expect(await positionsOf(users)).toEqual(expected);
  // Again: nothing moves back or sideways; then a small window reuses the buffer.
  expect(await advancePositions(redis, moves)).toBe(0);
  const last = users[users.length - 1];
  expect(await advancePositions(redis, movesOf([[last, ['news', '1800000000000-0']]]))).toBe(1);
  expect((await positionsOf([last]))[0].news).toBe('1800000000000-0');
});

it('moves runs of users to the same entry, broken by other entries and further pairs, each to what it asked for', async () => {
  // A broadcast's window (one category, one entry) with other moves in between: the script takes
  // runs of equal first pairs as one group, each further pair as its own.
  const users = Array.from({ length: POSITIONS_PER_CALL + 50 }, (_, i) => `run-${i}`);
  await members(users, () => ['news', 'sport']);
  const entryOf = (i: number) => (i % 70 < 60 ? '1700000000500-0' : `1700000000400-${i}`);
  const moves = movesOf(users.map((u, i) => [u, i % 9 === 0 ? ['news', entryOf(i), 'sport', `1700000000300-${i}`] : ['news', entryOf(i)]]));
  const moved = users.length + users.filter((_, i) => i % 9 === 0).length;
  expect(await advancePositions(redis, moves)).toBe(moved);
  expect(await positionsOf(users)).toEqual(
    users.map((_, i) => (i % 9 === 0 ? { news: entryOf(i), sport: `1700000000300-${i}` } : { news: entryOf(i) })),
  );
});

it('orders entry ids by their numbers: more ms digits is later, then more sequence digits, else the text', async () => {
  const user = 'order';
  await members([user], () => ['o']);
  // [asked for, moved, the position after]
  const steps: Array<[string, number, string]> = [
    ['999999999999-5', 1, '999999999999-5'], // a member without a position yet
    ['1000000000000-0', 1, '1000000000000-0'], // more ms digits, though "1" < "9" as text
    ['999999999999-99', 0, '1000000000000-0'], // fewer ms digits
    ['1000000000000-9', 1, '1000000000000-9'],
    ['1000000000000-10', 1, '1000000000000-10'], // more sequence digits, though "1" < "9" as text
    ['1000000000000-9', 0, '1000000000000-10'],
    ['1000000000001-0', 1, '1000000000001-0'], // as long: the text
    ['1000000000001-0', 0, '1000000000001-0'], // the same entry
    ['1000000000000-99', 0, '1000000000001-0'], // an earlier ms with a longer sequence
  ];
  const seen: Array<[string, number, string]> = [];
  for (const [entry] of steps) {
    const moved = await advancePositions(redis, movesOf([[user, ['o', entry]]]));
    seen.push([entry, moved, (await positionsOf([user]))[0].o]);
  }
  expect(seen).toEqual(steps);
});

it("takes a user's moves from several sessions in one window, in any order: the furthest entry stays", async () => {
  const users = ['two-a', 'two-b'];
  await members(users, () => ['x', 'y', 'z']);
  const [early, late] = ['1700000000000-5', '1700000000001-0'];
  const moves = [
    // two-a: the further entry first, then its other session's earlier one (never moves back).
    { userId: 'two-a', category: 'x', entry: late, more: ['y', early] },
    { userId: 'two-b', category: 'x', entry: early },
    { userId: 'two-a', category: 'x', entry: early, more: ['y', late, 'z', early] },
    // two-b: the earlier first, then the further one.
    { userId: 'two-b', category: 'x', entry: late, more: null },
  ];
  // Moved: two-a x, y, then y again and z; two-b x, then x again.
  expect(await advancePositions(redis, moves)).toBe(6);
  expect(await positionsOf(users)).toEqual([
    { x: late, y: late, z: early },
    { x: late },
  ]);
});

it('loads the script once per connection and sends it again when Redis has lost it', async () => {
  const users = ['flush-a', 'flush-b'];
  await members(users, () => ['f']);
  const [evals, evalshas] = [await evalCalls('eval'), await evalCalls('evalsha')];
  expect(await advancePositions(redis, movesOf(users.map((u) => [u, ['f', '1700000000000-1']])))).toBe(2);
  // This connection already sent it (the test above): EVALSHA, no EVAL.
  expect([await evalCalls('eval'), await evalCalls('evalsha')]).toEqual([evals, evalshas + 1]);

  await redis.script('FLUSH');
  expect(await advancePositions(redis, movesOf(users.map((u) => [u, ['f', '1700000000000-2']])))).toBe(2);
  expect(await positionsOf(users)).toEqual(users.map(() => ({ f: '1700000000000-2' })));
  // The EVALSHA that found no script, then the EVAL that loaded it.
  expect([await evalCalls('eval'), await evalCalls('evalsha')]).toEqual([evals + 1, evalshas + 2]);
});

it('sends a call again after a reconnect as it was, even when a later window was encoded meanwhile', async () => {
  const conn = createRedis({ REDIS_URL: url, REDIS_CLUSTER_NODES: undefined }, 'commands', 'positions-resend');
  try {
    const firstUsers = Array.from({ length: 300 }, (_, i) => `resend-first-${i}`);
    const secondUsers = Array.from({ length: 300 }, (_, i) => `resend-second-with-a-longer-id-${i}`);
    await members([...firstUsers, ...secondUsers], () => ['r']);
    // Killed with commands unread, the connection may be reset (ECONNRESET, EPIPE): expected here.
    conn.on('error', () => undefined);
    const id = await conn.client('ID');
    // Redis holds write commands (scripts included): the first window's calls are sent, unanswered.
    await redis.call('CLIENT', 'PAUSE', '20000', 'WRITE');
    const first = advancePositions(conn, movesOf(firstUsers.map((u) => [u, ['r', '1700000000000-1']])));
    // The connection drops with them unanswered: ioredis sends them again once reconnected.
    const closed = new Promise((resolve) => conn.once('close', resolve));
    await redis.client('KILL', 'ID', String(id));
    await closed;
    const second = advancePositions(conn, movesOf(secondUsers.map((u) => [u, ['r', '1700000000000-2']])));
    await new Promise((resolve) => conn.once('ready', resolve));
    await redis.call('CLIENT', 'UNPAUSE');
    expect(await Promise.all([first, second])).toEqual([300, 300]);
    expect(await positionsOf(firstUsers)).toEqual(firstUsers.map(() => ({ r: '1700000000000-1' })));
    expect(await positionsOf(secondUsers)).toEqual(secondUsers.map(() => ({ r: '1700000000000-2' })));
  } finally {
    await redis.call('CLIENT', 'UNPAUSE');
    await closeRedis(conn);
  }
});
