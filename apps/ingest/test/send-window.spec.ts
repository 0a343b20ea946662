/**
 * SEND_WINDOW_MS (send-window.ts): the single sends of one window go to Redis together, their
 * commands in one socket write, in the order the requests came; with 0 each goes at once.
 */
import type Redis from 'ioredis';
import { createLogger } from '@herald/logger';
import { closeRedis, createRedis, keys, type HeraldRedis } from '@herald/redis';
import { startRedisServer, writesDuring, type RedisServer } from '@herald/testing';
import { buildIngest, type Ingest } from '../src/app';
import { SendWindow } from '../src/sending/send-window';
import { bearer, ingestConfig, makeTokens } from './harness';

const WINDOW_MS = 1000;

let server: RedisServer;
let redis: HeraldRedis;
let token = '';
beforeAll(async () => {
  server = await startRedisServer();
  redis = createRedis({ REDIS_URL: server.url, REDIS_CLUSTER_NODES: undefined }, 'commands', 'send-window-test');
  token = (await makeTokens()).messages;
});
afterAll(async () => {
  await closeRedis(redis);
  await server.stop();
});

/**
 * An ingest on the test's connection, whose socket writes the test counts. Its windows are a
 * second, past the config's bound of 100 ms (set on the loaded config), so that the 20 sends
 * (~20 ms of 1 ms timers) fall in one window even when a busy CI machine leaves this process
 * unscheduled for a while: with windows of 100 ms a stall of ~80 ms split the sends and the
 * outbox appends in two (6 writes; 2 of 5 clean-clone CI runs).
 */
function ingestWith(sendWindowMs: number): Promise<Ingest> {
  const config = { ...ingestConfig(server.url), SEND_WINDOW_MS: sendWindowMs, EVENTS_OUTBOX_WINDOW_MS: WINDOW_MS };
  return buildIngest({ config, logger: createLogger({ app: 'ingest', level: 'silent' }), redis });
}

/** Socket writes of the test's connection while `work` runs. */
const redisWritesDuring = (work: () => Promise<unknown>) => writesDuring((redis as Redis).stream, work);

/** `count` sends to `user`, each in a turn of its own (1 ms apart); their ids, in the order sent. */
async function sendApart(ingest: Ingest, user: string, count: number): Promise<string[]> {
  const replies = [];
  for (let n = 0; n < count; n++) {
    replies.push(ingest.app.inject({ method: 'POST', url: '/v1/messages', headers: bearer(token), payload: { userIds: [user], payload: { n } } }));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return (await Promise.all(replies)).map((res) => {
    expect(res.statusCode).toBe(202);
    return (res.json() as { id: string }).id;
  });
}

/** Socket writes of 20 sends to `user` a turn apart with SEND_WINDOW_MS `windowMs`; the inbox keeps their order. */
async function writesOfSends(windowMs: number, user: string): Promise<number> {
  const ingest = await ingestWith(windowMs);
  try {
    let ids: string[] = [];
    const writes = await redisWritesDuring(async () => void (ids = await sendApart(ingest, user, 20)));
    expect(await redis.lrange(keys.inbox(user), 0, -1)).toEqual(ids);
    return writes;
  } finally {
    await ingest.close();
  }
}

it('sends the requests of one window together, in the order they came', async () => {
  // The first alone (after a quiet spell), the 19 others in one write; the outbox's appends in one or two more.
  expect(await writesOfSends(WINDOW_MS, 'window-user')).toBeLessThanOrEqual(5);
});

it('with SEND_WINDOW_MS=0 each request sends at once', async () => {
  // Each in a turn of its own, mostly (two may still meet in one turn): far more writes than with a window.
  expect(await writesOfSends(0, 'no-window-user')).toBeGreaterThanOrEqual(12);
});

it('lets what waits go at close, and later sends at once', async () => {
  const window = new SendWindow(60_000);
  await window.turn();
  const order: number[] = [];
  const waiting = [1, 2, 3].map((n) => window.turn()!.then(() => order.push(n)));
  await new Promise((resolve) => setImmediate(resolve));
  expect(order).toEqual([]);
  window.close();
  await Promise.all(waiting);
  expect(order).toEqual([1, 2, 3]);
  expect(window.turn()).toBeUndefined();
  expect(new SendWindow(0).turn()).toBeUndefined();
});
