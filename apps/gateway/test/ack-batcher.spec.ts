/** The ack batcher on a real redis-server: a window's position moves, per user and category the furthest one. */
import { keys, replaceUserCategories, type HeraldRedis } from '@herald/redis';
import { startRedisServer, waitFor, type RedisServer } from '@herald/testing';
import { AckBatcher, type PositionOwner } from '../src/acks/ack-batcher';
import { closeRedis, connect, newMetrics, silent } from './exposure-stage-rig';

let server: RedisServer;
let redis: HeraldRedis;

beforeAll(async () => {
  server = await startRedisServer();
  redis = connect(server, 'commands');
});

afterAll(async () => {
  await closeRedis(redis);
  await server.stop();
});

it("moves each user's position in each category to the furthest entry acknowledged in the window, whatever the order", async () => {
  await replaceUserCategories(redis, 'u1', ['a', 'b']);
  await replaceUserCategories(redis, 'u2', ['a']);
  const base = Date.now() + 60_000;
  const entry = (n: number) => `${base}-${n}`;
  const batcher = new AckBatcher(redis, newMetrics().metrics, silent, 60_000);
  // Two sessions of u1 (two devices) and one of u2.
  const [u1, u1b, u2] = [{ userId: 'u1' }, { userId: 'u1' }, { userId: 'u2' }];
  batcher.advance(u1, 'a', entry(5));
  batcher.advance(u1, 'b', entry(2));
  batcher.advance(u2, 'a', entry(1));
  batcher.advance(u1, 'a', entry(3)); // behind a's 5: ignored
  batcher.advance(u1, 'b', entry(7)); // ahead of b's 2: taken
  batcher.advance(u1b, 'b', entry(6)); // the other device, behind b's 7: ignored
  batcher.advance(u1b, 'a', entry(4)); // behind a's 5: ignored
  batcher.close(); // sends what waits
  await waitFor(async () => (await redis.hget(keys.categoryPositions('u2'), 'a')) === entry(1), { what: "u2's position" });
  const moved = await redis.hgetall(keys.categoryPositions('u1'));
  expect({ a: moved.a, b: moved.b }).toEqual({ a: entry(5), b: entry(7) });
});

it("sends each window only what moved in it, a session's holder reused from window to window", async () => {
  await replaceUserCategories(redis, 'w1', ['a', 'b']);
  const base = Date.now() + 60_000;
  const entry = (n: number) => `${base}-${n}`;
  const positions = () => redis.hgetall(keys.categoryPositions('w1'));
  const session: PositionOwner = { userId: 'w1' };
  const batcher = new AckBatcher(redis, newMetrics().metrics, silent, 0);
  batcher.advance(session, 'a', entry(1));
  batcher.advance(session, 'b', entry(1));
  await waitFor(async () => (await positions()).b === entry(1), { what: 'the first window' });
  const holder = session.positionMoves;
  // Another session's write moved `a` on since; this window moves only `b`: `a` must stay.
  await redis.hset(keys.categoryPositions('w1'), 'a', entry(9));
  batcher.advance(session, 'b', entry(2));
  await waitFor(async () => (await positions()).b === entry(2), { what: 'the second window' });
  expect((await positions()).a).toBe(entry(9));
  expect(session.positionMoves).toBe(holder);
  batcher.close();
});
