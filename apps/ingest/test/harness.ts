/**
 * Test helpers for ingest: a config built from an explicit env (never process.env), an ingest
 * on a private redis-server (one per spec file: sharedIngest), tokens, and ways to prove that a
 * refused request wrote nothing.
 */
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { loadIngestConfig, type IngestConfig } from '@herald/config';
import { createLogger } from '@herald/logger';
import { keys, queues } from '@herald/redis';
import { metricValue, signToken, startRedisServer, TEST_JWT_SECRET, waitFor, type RedisServer } from '@herald/testing';
import { Scope } from '@herald/types';
import { buildIngest, type Ingest } from '../src/app';

/**
 * No scheduled-sends worker unless a spec asks for one (SCHEDULE_WORKER=true): an idle BullMQ
 * worker polls its queue with scripts every few seconds, which the refusal tests would count as
 * writes (expectNoWrites).
 */
export function ingestConfig(redisUrl: string, env: Record<string, string> = {}): IngestConfig {
  return loadIngestConfig({ REDIS_URL: redisUrl, AUTH_JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'silent', SCHEDULE_WORKER: 'false', EVENTS_RELAY: 'false', ...env });
}

/**
 * Ingest's own start-up write: BullMQ stores its queue's meta hash once connected. Awaited before
 * the first test, so a test comparing Redis snapshots sees its own writes only.
 */
export async function queueMetaWritten(redis: Redis): Promise<void> {
  const meta = `${keys.queuePrefix}:${queues.scheduled}:meta`;
  await waitFor(async () => (await redis.exists(meta)) === 1, { what: 'the scheduled queue meta' });
}

export function startIngest(config: IngestConfig): Promise<Ingest> {
  return buildIngest({ config, logger: createLogger({ app: 'ingest', level: config.LOG_LEVEL }) });
}

/** What the tests of a spec file share: a private redis-server, a client of it, an ingest on it, tokens. */
export interface IngestStack {
  server: RedisServer;
  /** A plain client, for reading what ingest wrote. */
  redis: Redis;
  config: IngestConfig;
  ingest: Ingest;
  tokens: Tokens;
  /** The scheduled-sends queue as BullMQ sees it, on a connection of its own; made at its first use. */
  scheduledQueue(): Queue;
}

/**
 * One stack shared by the tests of a file: started before the first of them, closed after the last
 * (ingest, then the client, then the server). `env` is ingest's config over the defaults. The
 * object returned is filled in by that beforeAll, so read it inside tests and hooks only.
 */
export function sharedIngest(env: Record<string, string> = {}): IngestStack {
  const stack = {} as IngestStack;
  let queue: { connection: Redis; queue: Queue } | undefined;
  stack.scheduledQueue = () => {
    if (!queue) {
      const connection = new Redis(stack.server.url);
      queue = { connection, queue: new Queue(queues.scheduled, { connection, prefix: keys.queuePrefix }) };
    }
    return queue.queue;
  };
  beforeAll(async () => {
    stack.server = await startRedisServer();
    stack.redis = new Redis(stack.server.url);
    stack.config = ingestConfig(stack.server.url, env);
    stack.ingest = await startIngest(stack.config);
    stack.tokens = await makeTokens();
    await queueMetaWritten(stack.redis);
  });
  afterAll(async () => {
    await queue?.queue.close();
    queue?.connection.disconnect();
    await stack.ingest?.close();
    stack.redis?.disconnect();
    await stack.server?.stop();
  });
  return stack;
}

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

export interface Tokens {
  /** A producer allowed to send messages. */
  messages: string;
  /** A producer allowed to manage categories. */
  categories: string;
  /** An end user's token: no scope at all. */
  user: string;
  /** Another producer allowed to send messages. */
  otherProducer: string;
  /** An operator's token that may read and change any producer's messages. */
  admin: string;
}

export async function makeTokens(): Promise<Tokens> {
  return {
    messages: await signToken('producer-messages', { scope: Scope.MESSAGES_WRITE }),
    categories: await signToken('producer-categories', { scope: Scope.CATEGORIES_WRITE }),
    user: await signToken('alice'),
    otherProducer: await signToken('producer-other', { scope: Scope.MESSAGES_WRITE }),
    admin: await signToken('operator', { scope: `${Scope.MESSAGES_WRITE} ${Scope.MESSAGES_ADMIN}` }),
  };
}

/** Every key with its content (two pipelined round trips): equal snapshots mean no data changed. */
export async function snapshot(redis: Redis): Promise<Record<string, unknown>> {
  const all = (await redis.keys('*')).sort();
  const types = await results(all.reduce((p, key) => p.type(key), redis.pipeline()));
  const reads = redis.pipeline();
  all.forEach((key, i) => {
    if (types[i] === 'string') reads.get(key);
    else if (types[i] === 'list') reads.lrange(key, 0, -1);
    else if (types[i] === 'set') reads.smembers(key);
    else reads.type(key);
  });
  const values = await results(reads);
  return Object.fromEntries(
    all.map((key, i) => [key, types[i] === 'set' ? [...(values[i] as string[])].sort() : values[i]]),
  );
}

async function results(pipeline: ReturnType<Redis['pipeline']>): Promise<unknown[]> {
  return ((await pipeline.exec()) ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

/** Commands that change data or tell gateways something; a refused request must issue none. */
const WRITE_COMMANDS = ['set', 'rpush', 'ltrim', 'sadd', 'srem', 'del', 'publish', 'spublish', 'eval', 'evalsha'];

/** How many write commands the server has run so far (from INFO commandstats). */
export async function writeCommandCount(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  let total = 0;
  for (const match of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) {
    if (WRITE_COMMANDS.includes(match[1])) total += Number(match[2]);
  }
  return total;
}

/** Runs `act` and expects Redis to hold the same data and to have run no write command. */
export async function expectNoWrites(redis: Redis, act: () => Promise<void>): Promise<void> {
  const before = await snapshot(redis);
  const writesBefore = await writeCommandCount(redis);
  await act();
  expect(await writeCommandCount(redis)).toBe(writesBefore);
  expect(await snapshot(redis)).toEqual(before);
}

/** The value of a counter (optionally one labelled series) in the /metrics text; 0 when absent. */
export const counterValue = metricValue;

/** The answer is a refusal: this status, and the Contract error body with this code. */
export function expectRefusal(res: { statusCode: number; json(): unknown }, status: number, code: string): void {
  expect(res.statusCode).toBe(status);
  expect((res.json() as { error: { code: string } }).error.code).toBe(code);
}
