/**
 * What ingest's HTTP property tests share: the limits their ingest runs with, that ingest on a
 * private redis-server (one per spec file), and the strict check that a request wrote nothing.
 *
 * The Redis check is stricter than the harness's `expectNoWrites`: it compares every key by DUMP
 * (hashes, sorted sets and streams too, where BullMQ and idempotency records live) and counts every
 * command Redis itself flags `write`, plus publishes and scripts.
 */
import type Redis from 'ioredis';
import { bearer, sharedIngest, type IngestStack } from '../harness';
import { signed, signTokens } from './property-tokens';

export const MAX_RECIPIENTS = 4;
export const MAX_BODY_BYTES = 64 * 1024;
export const MAX_TTL_SECONDS = 3600;
export const DEFAULT_TTL_SECONDS = 600;
/** What ingest accepts as an Idempotency-Key (idempotent.ts). */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
/** Keys this close to expiring may vanish between two snapshots; Redis, not a request, removes them. */
const VOLATILE_MS = 3000;

export interface PropertyIngest extends IngestStack {
  /** The commands that count as writes (loadWriteCommands). */
  writeCommands: Set<string>;
  /** The category message sent before the tests, so the queue's start-up writes are done. */
  warmupMessageId: string;
}

/**
 * The ingest of a property spec file, with the limits above, no background worker (every request
 * is judged by whole-Redis snapshots) and the property tokens signed; filled in before the first
 * test, closed after the last.
 */
export function sharedPropertyIngest(): PropertyIngest {
  const stack = sharedIngest({
    MAX_RECIPIENTS: String(MAX_RECIPIENTS),
    MAX_BODY_BYTES: String(MAX_BODY_BYTES),
    MESSAGE_MAX_TTL_SECONDS: String(MAX_TTL_SECONDS),
    MESSAGE_DEFAULT_TTL_SECONDS: String(DEFAULT_TTL_SECONDS),
  }) as PropertyIngest;
  beforeAll(async () => {
    await stack.ingest.app.ready();
    await signTokens();
    stack.writeCommands = await loadWriteCommands(stack.redis);
    // The queue's own start-up writes (BullMQ metadata) happen once; send one message so they are done.
    const warmup = await stack.ingest.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: bearer(signed.messages!),
      payload: { category: 'warmup', payload: null },
    });
    expect(warmup.statusCode).toBe(202);
    stack.warmupMessageId = (warmup.json() as { id: string }).id;
  });
  return stack;
}

/** JSON.parse as fastify's body parser does it: a leading byte order mark is dropped. */
export function parseJson(text: string): unknown {
  return JSON.parse(text.replace(/^\uFEFF/, ''));
}

// ---------------------------------------------------------------------------------------------
// Redis state

interface KeyState {
  dump: string;
  pttl: number;
}
type RedisState = Record<string, KeyState>;

async function exec(pipeline: ReturnType<Redis['pipeline']>): Promise<unknown[]> {
  return ((await pipeline.exec()) ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

/** Every key's serialized value (any type) and remaining TTL. */
async function redisState(redis: Redis): Promise<RedisState> {
  const names = (await redis.keys('*')).sort();
  const pipeline = redis.pipeline();
  for (const key of names) pipeline.dumpBuffer(key).pttl(key);
  const values = await exec(pipeline);
  const state: RedisState = {};
  names.forEach((key, i) => {
    const dump = values[2 * i] as Buffer | null;
    if (dump) state[key] = { dump: dump.toString('base64'), pttl: values[2 * i + 1] as number };
  });
  return state;
}

/** What must not change: each key's content and whether it expires (not the TTL that ticks down). */
function comparable(state: RedisState, volatile: Set<string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(state)
      .filter(([key]) => !volatile.has(key))
      .map(([key, { dump, pttl }]) => [key, `${pttl < 0 ? 'persistent' : 'expiring'} ${dump}`]),
  );
}

/** The names Redis flags as `write` (subcommands as `cmd|sub`), plus publishes and scripts. */
async function loadWriteCommands(redis: Redis): Promise<Set<string>> {
  const names = new Set(['publish', 'spublish', 'eval', 'evalsha', 'fcall']);
  const visit = (entries: unknown[]) => {
    for (const entry of entries as unknown[][]) {
      const [name, , flags] = entry as [string, number, string[]];
      if (flags.includes('write')) names.add(name.toLowerCase());
      if (Array.isArray(entry[9])) visit(entry[9] as unknown[]);
    }
  };
  visit((await redis.call('COMMAND')) as unknown[]);
  return names;
}

async function writeCount({ redis, writeCommands }: PropertyIngest): Promise<number> {
  const info = await redis.info('commandstats');
  let total = 0;
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (writeCommands.has(match[1])) total += Number(match[2]);
  }
  return total;
}

export interface Before {
  state: RedisState;
  writes: number;
}

/** Redis as it is now, to compare with after a request. */
export async function before(stack: PropertyIngest): Promise<Before> {
  return { state: await redisState(stack.redis), writes: await writeCount(stack) };
}

/** Redis holds the same data as before (keys about to expire aside). */
async function expectSameData(stack: PropertyIngest, prior: Before): Promise<void> {
  const after = await redisState(stack.redis);
  const volatile = new Set(Object.keys(prior.state).filter((key) => prior.state[key].pttl >= 0 && prior.state[key].pttl <= VOLATILE_MS));
  expect(comparable(after, volatile)).toEqual(comparable(prior.state, volatile));
}

/** Nothing written: no write command ran and the data is the same. */
export async function expectNoWrites(stack: PropertyIngest, prior: Before): Promise<void> {
  expect(await writeCount(stack)).toBe(prior.writes);
  await expectSameData(stack, prior);
}
