/** The ack batcher on a real redis-server: a window's position moves, per user and category the furthest one. */
import { keys, replaceUserCategories, type HeraldRedis } from '@herald/redis';
import { startRedisServer, waitFor, type RedisServer } from '@herald/testing';
import { AckBatcher } from '../src/ack-batcher';
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
  batcher.advance('u1', 'a', entry(5));
  batcher.advance('u1', 'b', entry(2));
  batcher.advance('u2', 'a', entry(1));
  batcher.advance('u1', 'a', entry(3)); // behind a's 5: ignored
  batcher.advance('u1', 'b', entry(7)); // ahead of b's 2: taken
  batcher.close(); // sends what waits
  await waitFor(async () => (await redis.hget(keys.categoryPositions('u2'), 'a')) === entry(1), { what: "u2's position" });
  const u1 = await redis.hgetall(keys.categoryPositions('u1'));
  expect({ a: u1.a, b: u1.b }).toEqual({ a: entry(5), b: entry(7) });
});
