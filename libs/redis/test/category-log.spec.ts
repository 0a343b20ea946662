/**
 * Category logs on a real redis-server: a message stored once (body, one log entry, one note),
 * the log's cap and lifetime, idempotent appends, and the members' read positions (set at join,
 * gone at leave, moved forward only, only for members), read with the connect's snapshot.
 */
import Redis from 'ioredis';
import type { RedisServer } from '@herald/testing';
import { waitFor } from '@herald/testing';
import {
  advancePositions,
  appendToCategory,
  compareEntryIds,
  keys,
  LOG_START,
  newMessage,
  parseNotification,
  POSITIONS_PER_CALL,
  publishToCategory,
  readCategoryLog,
  readSnapshot,
  readTrimmed,
  replaceUserCategories,
  type HeraldRedis,
} from '../src';
import { usePrivateRedis } from './private-redis';
import { movesOf } from './position-moves';

let server: RedisServer;
let redis: HeraldRedis;
usePrivateRedis('category-log-test', (s, r) => ([server, redis] = [s, r]));

const OPTS = { cap: 1000, lifetimeSeconds: 3600 };
const message = (category: string, payload: unknown = 1) => newMessage({ payload, ttlMs: 60_000, category });

it('stores a category message once: its body, one log entry, one note with the entry id', async () => {
  const notes: string[] = [];
  const sub = new Redis(server.url);
  sub.on('smessage', (_channel: string, note: string) => notes.push(note));
  await sub.ssubscribe(keys.categoryChannel('once'));
  const m = message('once', { hello: 'all' });

  const { entry, dropped } = await publishToCategory(redis, m, 'once', OPTS);

  expect(dropped).toBe(0);
  expect(await readCategoryLog(redis, 'once', LOG_START, 10)).toEqual([{ entry, id: m.id, expiresAt: m.expiresAt }]);
  expect(await redis.exists(keys.message(m.id))).toBe(1);
  expect(await redis.ttl(keys.categoryLog('once'))).toBeGreaterThan(3590);
  await waitFor(() => notes.length === 1, { what: 'the note' });
  expect(parseNotification(notes[0])).toMatchObject({ kind: 'entry', entry, id: m.id, message: { id: m.id, category: 'once' } });
  sub.disconnect();
});

it('keeps a log to its cap and to the longest TTL, counting what it dropped', async () => {
  // An entry from long ago (id 1-0): past the log's lifetime, it goes at the next append.
  await redis.xadd(keys.categoryLog('trim'), '1-0', 'i', 'ancient', 'e', '2');
  const ids: string[] = [];
  let dropped = 0;
  for (let i = 0; i < 5; i++) {
    const m = message('trim', i);
    ids.push(m.id);
    dropped += (await publishToCategory(redis, m, 'trim', { cap: 3, lifetimeSeconds: 60 })).dropped;
  }
  expect((await readCategoryLog(redis, 'trim', LOG_START, 10)).map((e) => e.id)).toEqual(ids.slice(2));
  expect(dropped).toBe(3);
});

it('appends an id once under an idempotency key, and again without one', async () => {
  const m = message('idem');
  const once = { ...OPTS, unique: true, rememberSeconds: 60 };
  expect((await appendToCategory(redis, 'idem', m, 'rX', once)).entry).not.toBeNull();
  expect(await appendToCategory(redis, 'idem', m, 'rX', once)).toEqual({ entry: null, dropped: 0, replaced: 0 });
  expect((await appendToCategory(redis, 'idem', m, 'rX', OPTS)).entry).not.toBeNull();
  expect(await redis.xlen(keys.categoryLog('idem'))).toBe(2);
});

it('reads the log after a position, a page at a time, and orders entry ids', async () => {
  for (let i = 0; i < 5; i++) await appendToCategory(redis, 'pages', message('pages', i), 'r-', OPTS);
  const first = await readCategoryLog(redis, 'pages', LOG_START, 2);
  const rest = await readCategoryLog(redis, 'pages', first[1].entry, 10);
  expect(first.length + rest.length).toBe(5);
  expect(compareEntryIds(first[1].entry, rest[0].entry)).toBeLessThan(0);
  expect(compareEntryIds('9-10', '10-0')).toBeLessThan(0);
  expect(compareEntryIds('10-10', '10-9')).toBeGreaterThan(0);
  expect(compareEntryIds('10-1', '10-1')).toBe(0);
  expect(compareEntryIds('0-0', '1764000000000-0')).toBeLessThan(0);
  expect(compareEntryIds('1764000000001-0', '1764000000000-99')).toBeGreaterThan(0);
  expect(compareEntryIds('1764000000000-10', '1764000000000-9')).toBeGreaterThan(0);
  expect(compareEntryIds('1764000000000-18446744073709551615', '1764000000001-0')).toBeLessThan(0);
  // Ids of the same shape, compared as text, both ways; equal ids that are not the same string.
  expect(compareEntryIds('1764000000001-5', '1764000000000-9')).toBeGreaterThan(0);
  expect(compareEntryIds('1764000000000-9', '1764000000001-5')).toBeLessThan(0);
  expect(compareEntryIds('1764000000000-5', '1764000000000-6')).toBeLessThan(0);
  expect(compareEntryIds(['1764000000000', '5'].join('-'), '1764000000000-5')).toBe(0);
});

it('sets a position at join, drops it at leave, and moves it forward only, for members only', async () => {
  const u = 'pos-user';
  const before = Date.now();
  await replaceUserCategories(redis, u, ['a', 'b']);
  const joined = await redis.hgetall(keys.categoryPositions(u));
  expect(Object.keys(joined).sort()).toEqual(['a', 'b']);
  // The last id of the millisecond before the join's (the largest sequence number a stream has).
  const [ms, seq] = [Number(joined.a.split('-')[0]), joined.a.split('-')[1]];
  expect(seq).toBe('18446744073709551615');
  expect(ms).toBeGreaterThanOrEqual(before - 1000);

  await replaceUserCategories(redis, u, ['b', 'c']);
  const after = await redis.hgetall(keys.categoryPositions(u));
  expect(Object.keys(after).sort()).toEqual(['b', 'c']);
  expect(after.b).toBe(joined.b);

  const later = `${ms + 10}-3`;
  const at = (entries: [string, string][]) => movesOf([[u, entries.flat()]]);
  expect(await advancePositions(redis, at([['b', later], ['a', later]]))).toBe(1);
  expect(await advancePositions(redis, at([['b', `${ms + 10}-2`]]))).toBe(0);
  expect(await redis.hgetall(keys.categoryPositions(u))).toEqual({ b: later, c: after.c });

  const snapshot = await readSnapshot(redis, u);
  expect(snapshot.categories).toEqual(['b', 'c']);
  expect(snapshot.positions).toEqual(new Map([['b', later], ['c', after.c]]));
});

it('counts a message appended in the same millisecond as the join, after it, as the new member\'s', async () => {
  // Redis's clock read just before a join: an entry of that millisecond is of the join's too.
  const clock = async () => {
    const [s, us] = await redis.time();
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  };
  let sameMillisecond = 0;
  for (let i = 0; i < 2000 && sameMillisecond < 3; i++) {
    const [u, c] = [`same-ms-${i}`, `same-ms-cat-${i}`];
    const before = await clock();
    await replaceUserCategories(redis, u, [c]);
    const m = message(c);
    const { entry } = await appendToCategory(redis, c, m, 'r' + m.id, OPTS);
    if (Number(entry!.split('-')[0]) === before) sameMillisecond++;
    const position = (await redis.hget(keys.categoryPositions(u), c))!;
    expect({ i, read: (await readCategoryLog(redis, c, position, 10)).map((e) => e.id) }).toEqual({ i, read: [m.id] });
    expect({ i, lost: await readTrimmed(redis, c, position) }).toEqual({ i, lost: [] });
  }
  // The race this is about happened (a join and an append ~a round trip apart: it does, often).
  expect(sameMillisecond).toBe(3);
});

it('moves the positions of many users in one call each POSITIONS_PER_CALL, each only forward and for members', async () => {
  const users = Array.from({ length: POSITIONS_PER_CALL + 5 }, (_, i) => `many-${i}`);
  for (const u of users) await replaceUserCategories(redis, u, ['m']);
  const ahead = `${Date.now() + 60_000}-0`;
  const moves = movesOf(users.map((u, i) => [u, ['m', ahead, ...(i === 0 ? ['not-mine', ahead] : [])]]));
  const calls = Number((await redis.info('commandstats')).match(/cmdstat_evalsha:calls=(\d+)/)?.[1] ?? 0);
  expect(await advancePositions(redis, moves)).toBe(users.length);
  const after = Number((await redis.info('commandstats')).match(/cmdstat_evalsha:calls=(\d+)/)?.[1] ?? 0);
  expect(after - calls).toBe(2);
  for (const u of [users[0], users[users.length - 1]]) expect(await redis.hgetall(keys.categoryPositions(u))).toEqual({ m: ahead });
  expect(await advancePositions(redis, moves)).toBe(0);
});

it('remembers what the cap and the lifetime trimmed, after any position, at most `cap` of them', async () => {
  const append = (c: string, ttlMs: number, opts: { cap: number; lifetimeSeconds: number }) => {
    const m = newMessage({ payload: 1, ttlMs, category: c });
    return appendToCategory(redis, c, m, 'r' + m.id, opts).then(({ entry }) => ({ entry: entry!, id: m.id }));
  };
  // The cap: 2 entries kept; the 3 oldest of 5 trimmed, at most 2 remembered (the newest).
  const capped = [];
  for (let i = 0; i < 5; i++) capped.push(await append('trim-cap', 60_000, { cap: 2, lifetimeSeconds: 3600 }));
  expect(await readTrimmed(redis, 'trim-cap', LOG_START)).toEqual(capped.slice(1, 3).map(({ entry, id }) => ({ entry, id, reason: 'dropped' })));
  // After a position: only what came after it.
  expect(await readTrimmed(redis, 'trim-cap', capped[1].entry)).toEqual([{ ...capped[2], reason: 'dropped' }]);
  expect(await readTrimmed(redis, 'trim-cap', capped[4].entry)).toEqual([]);
  // A message past its expiry when the cap takes it is expired, not dropped.
  const short = await append('trim-short', 1, { cap: 1, lifetimeSeconds: 3600 });
  const t = Date.now();
  await waitFor(() => Date.now() > t + 1, { what: 'the short message to expire' });
  await append('trim-short', 60_000, { cap: 1, lifetimeSeconds: 3600 });
  expect(await readTrimmed(redis, 'trim-short', LOG_START)).toEqual([{ ...short, reason: 'expired' }]);
  // The lifetime (2 s here): an entry older than it goes at the next append, expired. (A log idle
  // for a whole lifetime expires with all its entries, unrecorded: a middle append keeps it.)
  const life = { cap: 10, lifetimeSeconds: 2 };
  const old = await append('trim-life', 60_000, life);
  const bornAt = Number(old.entry.split('-')[0]);
  await waitFor(() => Date.now() > bornAt + 1000, { what: 'half the lifetime' });
  const middle = await append('trim-life', 60_000, life);
  await waitFor(() => Date.now() > bornAt + 2000, { what: "the first entry to outlive the log's lifetime" });
  const young = await append('trim-life', 60_000, life);
  expect((await readCategoryLog(redis, 'trim-life', LOG_START, 10)).map((e) => e.entry)).toEqual([middle.entry, young.entry]);
  expect(await readTrimmed(redis, 'trim-life', LOG_START)).toEqual([{ ...old, reason: 'expired' }]);
  expect(await redis.ttl(keys.categoryTrimmed('trim-life'))).toBeGreaterThan(0);
});

