import Redis from 'ioredis';
import { waitFor, type RedisServer } from '@herald/testing';
import {
  checkScriptMethods,
  decodeMessage,
  encodeMessage,
  deliverToUser,
  messageNote,
  refNote,
  readSnapshot,
  ALREADY_DELIVERED,
  claimIdempotency,
  completeIdempotency,
  spillExposures,
  spilledEvents,
  SPILL_CHUNK,
  SPILL_FIELD,
  ensureSpillGroup,
  readSpill,
  ackSpill,
  spillLength,
  spillOldestAgeMs,
  beatWal,
  rescueStaleWals,
  rescueWal,
  writeWalBatch,
  keys,
  readInbox,
  removeFromInbox,
  storeMessage,
  loadMessages,
  parseNotification,
  replaceUserCategories,
  getUserCategories,
  sendToUsers,
  closeRedis,
  createRedis,
  onSubscriberReconnect,
  type HeraldRedis,
} from '../src';
import { usePrivateRedis } from './private-redis';

let server: RedisServer;
let redis: HeraldRedis;

usePrivateRedis('test', (s, r) => ([server, redis] = [s, r]));

const message = (id: string, ttlMs = 60_000) => ({
  id,
  category: 'news' as string | null,
  payload: { text: 'a|b|c' },
  createdAt: new Date().toISOString(),
  expiresAt: Date.now() + ttlMs,
});

it('gives every script file a method of its own, and refuses two files that would share one', () => {
  expect(() => checkScriptMethods()).not.toThrow();
  expect(() => checkScriptMethods(['remove-ids-1', 'deliver-4', 'remove-ids-n'])).toThrow(/remove-ids-1 and remove-ids-n would both be the method removeIds/);
});

it('encodes a message once and decodes the header back, frame intact', () => {
  const m = message('m1');
  const decoded = decodeMessage(encodeMessage(m));
  expect(decoded).toMatchObject({ id: 'm1', category: 'news', expiresAt: m.expiresAt });
  expect(JSON.parse(decoded!.frame.toString())).toEqual({ type: 'message', id: 'm1', category: 'news', payload: m.payload, createdAt: m.createdAt });
  expect(decodeMessage('garbage')).toBeNull();
  expect(parseNotification('x')).toBeNull();
  expect(parseNotification('c["a"]')).toEqual({ kind: 'categories', categories: ['a'] });
  expect(parseNotification(refNote('m9'))).toEqual({ kind: 'ref', id: 'm9' });
  expect(parseNotification('btok')).toEqual({ kind: 'barrier', token: 'tok' });
  expect(parseNotification('r')).toBeNull();
});

it('decodes the bytes a subscriber receives: UTF-8 intact, the frame a view of the same memory', () => {
  const m = { ...message('m-ü'), category: 'nëws', payload: { text: 'héllo ✓ 🚀 a|b' } };
  const raw = Buffer.from(messageNote(encodeMessage(m)));
  const note = parseNotification(raw);
  expect(note).toMatchObject({ kind: 'message', message: { id: 'm-ü', category: 'nëws', expiresAt: m.expiresAt } });
  const frame = (note as { message: { frame: Buffer } }).message.frame;
  expect(JSON.parse(frame.toString('utf8'))).toMatchObject({ id: 'm-ü', payload: m.payload });
  expect(frame.buffer).toBe(raw.buffer);
  expect(decodeMessage(Buffer.from('|m1||{}'))).toBeNull();
  expect(decodeMessage(Buffer.from('12|m1|'))).toBeNull();
  expect(parseNotification(Buffer.from('c["x"]'))).toEqual({ kind: 'categories', categories: ['x'] });
  expect(parseNotification(Buffer.from('c[1]'))).toBeNull();
});

it('stores bodies with the TTL and loads them in one round trip, null when missing', async () => {
  await storeMessage(redis, message('b1', 30_000));
  const ttl = await redis.pttl(keys.message('b1'));
  expect(ttl).toBeGreaterThan(25_000);
  expect(ttl).toBeLessThanOrEqual(30_000);
  const [a, b] = await loadMessages(redis, ['b1', 'nope']);
  expect(decodeMessage(a!)!.id).toBe('b1');
  expect(b).toBeNull();
});

it('appends to the inbox, caps it dropping the oldest, and notifies the user channel', async () => {
  const sub = new Redis(server.url);
  const notes: string[] = [];
  sub.on('smessage', (_c, m: string) => notes.push(m));
  await sub.ssubscribe(keys.userChannel('u1'));
  let dropped = 0;
  for (let i = 0; i < 5; i++) {
    dropped += (await deliverToUser(redis, 'u1', `id${i}`, messageNote(encodeMessage(message(`id${i}`))), { cap: 3, inboxTtlSeconds: 60 })).dropped;
  }
  expect(dropped).toBe(2);
  expect(await readInbox(redis, 'u1')).toEqual(['id2', 'id3', 'id4']);
  await waitFor(() => notes.length === 5, { what: '5 notifications' });
  expect(notes.map((n) => (parseNotification(n) as { message: { id: string } }).message.id)).toEqual(['id0', 'id1', 'id2', 'id3', 'id4']);
  expect(await removeFromInbox(redis, 'u1', ['id3', 'unknown'])).toBe(1);
  expect(await readInbox(redis, 'u1')).toEqual(['id2', 'id4']);
  sub.disconnect();
});

it('removes a list of ids longer than a call may carry, in chunks, without a stack overflow', async () => {
  for (const id of ['keep', 'gone1', 'gone2']) await deliverToUser(redis, 'u-long', id, refNote(id), { cap: 10, inboxTtlSeconds: 60 });
  // 200k arguments spread into one call overflow V8's stack ("Maximum call stack size exceeded").
  const ids = Array.from({ length: 200_000 }, (_, i) => `bogus-${i}`);
  ids[1234] = 'gone1';
  ids[150_000] = 'gone2';
  expect(await removeFromInbox(redis, 'u-long', ids)).toBe(2);
  expect(await readInbox(redis, 'u-long')).toEqual(['keep']);
}, 30_000);

it('replaces categories and keeps the member sets in line', async () => {
  await replaceUserCategories(redis, 'u2', ['b', 'a', 'a']);
  expect(await getUserCategories(redis, 'u2')).toEqual(['a', 'b']);
  await replaceUserCategories(redis, 'u2', ['c']);
  expect(await getUserCategories(redis, 'u2')).toEqual(['c']);
  expect(await redis.sismember(keys.categoryMembers('a'), 'u2')).toBe(0);
  expect(await redis.sismember(keys.categoryMembers('c'), 'u2')).toBe(1);
  expect(keys.userOfChannel(keys.userChannel('u2'))).toBe('u2');
  expect(keys.userOfChannel('other')).toBeNull();
});

it('a unique delivery skips an id the inbox holds, without a second notification', async () => {
  const sub = new Redis(server.url);
  const notes: string[] = [];
  sub.on('smessage', (_c, m: string) => notes.push(m));
  await sub.ssubscribe(keys.userChannel('u3'));
  expect(await deliverToUser(redis, 'u3', 'x1', refNote('x1'), { cap: 10, unique: true, inboxTtlSeconds: 60 })).toEqual({ dropped: 0, replaced: 0 });
  expect(await deliverToUser(redis, 'u3', 'x2', refNote('x2'), { cap: 10, unique: true, inboxTtlSeconds: 60 })).toEqual({ dropped: 0, replaced: 0 });
  expect(await deliverToUser(redis, 'u3', 'x1', refNote('x1'), { cap: 10, unique: true, inboxTtlSeconds: 60 })).toEqual({ dropped: ALREADY_DELIVERED, replaced: 0 });
  expect(await readInbox(redis, 'u3')).toEqual(['x1', 'x2']);
  await deliverToUser(redis, 'u3', 'x3', refNote('end'), { cap: 10, inboxTtlSeconds: 60 });
  await waitFor(() => notes.includes('rend'), { what: 'the last notification' });
  expect(notes).toEqual(['rx1', 'rx2', 'rend']);
  sub.disconnect();
});

it('reads categories and inbox in one snapshot', async () => {
  await replaceUserCategories(redis, 'u4', ['z', 'y']);
  await deliverToUser(redis, 'u4', 'a', refNote('a'), { cap: 10, inboxTtlSeconds: 60 });
  await deliverToUser(redis, 'u4', 'b', refNote('b'), { cap: 10, inboxTtlSeconds: 60 });
  expect(await readSnapshot(redis, 'u4')).toEqual({ categories: ['y', 'z'], ids: ['a', 'b'], positions: expect.any(Map) });
  expect([...(await readSnapshot(redis, 'u4')).positions.keys()].sort()).toEqual(['y', 'z']);
  expect(await readSnapshot(redis, 'nobody')).toEqual({ categories: [], ids: [], positions: new Map() });
});

describe('idempotency keys', () => {
  const base = { producer: 'p1', key: 'k1', fingerprint: 'f1', leaseMs: 1000, ttlSeconds: 60 };

  it('claims once, answers busy while the lease runs, then the recorded result', async () => {
    const first = await claimIdempotency(redis, { ...base, id: 'id-1', now: 1_000 });
    expect(first).toEqual({ state: 'claimed', id: 'id-1', createdAt: 1_000 });
    expect(await claimIdempotency(redis, { ...base, id: 'id-2', now: 1_500 })).toEqual({ state: 'busy', id: 'id-1' });
    expect(await completeIdempotency(redis, 'p1', 'k1', '{"id":"id-1"}')).toBe(true);
    expect(await claimIdempotency(redis, { ...base, id: 'id-3', now: 1_600 })).toEqual({
      state: 'done',
      id: 'id-1',
      result: '{"id":"id-1"}',
    });
    const record = (await redis.keys('idem:*'))[0];
    expect(await redis.ttl(record)).toBeGreaterThan(50);
  });

  it('lets a repeat take over, with the same id and time, once the lease ran out', async () => {
    await claimIdempotency(redis, { ...base, key: 'k2', id: 'id-a', now: 10_000 });
    expect(await claimIdempotency(redis, { ...base, key: 'k2', id: 'id-b', now: 11_000 })).toEqual({
      state: 'claimed',
      id: 'id-a',
      createdAt: 10_000,
    });
    expect(await claimIdempotency(redis, { ...base, key: 'k2', id: 'id-c', now: 11_500 })).toEqual({ state: 'busy', id: 'id-a' });
  });

  it('refuses the same key with another body, and keeps keys apart per producer', async () => {
    await claimIdempotency(redis, { ...base, key: 'k3', id: 'id-x', now: 1 });
    expect(await claimIdempotency(redis, { ...base, key: 'k3', id: 'id-y', fingerprint: 'other', now: 2 })).toEqual({
      state: 'mismatch',
      id: 'id-x',
    });
    expect(await claimIdempotency(redis, { ...base, key: 'k3', producer: 'p2', id: 'id-z', now: 2 })).toMatchObject({
      state: 'claimed',
      id: 'id-z',
    });
  });

  it('does not resurrect an expired record when completing', async () => {
    expect(await completeIdempotency(redis, 'p9', 'never-claimed', '{}')).toBe(false);
    expect(await redis.keys('idem:*')).toHaveLength(4);
  });
});

describe('exposure spill', () => {
  const UNBOUNDED = { maxEvents: 1_000_000, maxAgeMs: 0 };

  it('replays oldest first, lets another gateway claim what a dead one left, and forgets acknowledged entries', async () => {
    await ensureSpillGroup(redis);
    await ensureSpillGroup(redis); // idempotent
    await spillExposures(redis, ['e1', 'e2', 'e3'], UNBOUNDED);
    await spillExposures(redis, ['e4'], UNBOUNDED);
    expect(await spillLength(redis)).toBe(4);

    const dead = await readSpill(redis, 'gw-dead', 3, 60_000);
    expect(dead.map((e) => e.data)).toEqual(['e1', 'e2', 'e3']);
    // A live gateway gets the next new one now, and the dead one's only once they are idle enough.
    const next = await readSpill(redis, 'gw-live', 10, 60_000);
    expect(next.map((e) => e.data)).toEqual(['e4']);
    expect(await ackSpill(redis, next)).toBe(1);
    expect(await readSpill(redis, 'gw-live', 10, 60_000)).toEqual([]);
    // Claimed only once all three are idle long enough: Redis stamps each entry's delivery on its
    // own (a millisecond or more apart on a loaded machine), and a claim takes what is idle then
    // (a claim at the boundary took e1 alone once in CI, and the consumer's own e1 then hid the rest).
    await waitFor(async () => {
      const pending = (await redis.xpending(keys.exposureSpill, keys.spillGroup, '-', '+', 10)) as Array<[string, string, number, number]>;
      return pending.length === 3 && pending.every(([, , idleMs]) => idleMs >= 50);
    }, { what: 'the dead gateway\'s entries to be claimable' });
    const claimed = await readSpill(redis, 'gw-live', 10, 50);
    expect(claimed.map((e) => e.data)).toEqual(['e1', 'e2', 'e3']);
    // Not acknowledged yet: they come back to the same consumer first.
    expect((await readSpill(redis, 'gw-live', 10, 60_000)).map((e) => e.data)).toEqual(['e1', 'e2', 'e3']);
    expect(await ackSpill(redis, claimed)).toBe(3);
    expect(await spillLength(redis)).toBe(0);
    expect(await readSpill(redis, 'gw-live', 10, 0)).toEqual([]);
  });

  it('refuses events past its size bound, trims entries past its age bound, and counts both', async () => {
    expect(await spillExposures(redis, ['a1', 'a2', 'a3'], { maxEvents: 2, maxAgeMs: 0 })).toEqual({ spilled: 2, refused: 1, expired: 0 });
    expect(await spillExposures(redis, ['a4'], { maxEvents: 2, maxAgeMs: 0 })).toEqual({ spilled: 0, refused: 1, expired: 0 });
    expect(await spillOldestAgeMs(redis)).toBeGreaterThanOrEqual(0);
    // Entries older than the age bound (stamped by Redis's clock) are trimmed before appending.
    await waitFor(async () => (await spillOldestAgeMs(redis)) > 20, { what: 'the spill to age' });
    expect(await spillExposures(redis, ['a5'], { maxEvents: 2, maxAgeMs: 10 })).toEqual({ spilled: 1, refused: 0, expired: 2 });
    expect(await spillLength(redis)).toBe(1);
    // A pending entry trimmed meanwhile is acknowledged and skipped by the replay.
    await ensureSpillGroup(redis);
    const read = await readSpill(redis, 'gw-trim', 10, 60_000);
    expect(read.map((e) => e.data)).toEqual(['a5']);
    await redis.xtrim(keys.exposureSpill, 'MAXLEN', 0);
    expect(await readSpill(redis, 'gw-trim', 10, 60_000)).toEqual([]);
    expect(await redis.xpending(keys.exposureSpill, keys.spillGroup)).toEqual([0, null, null, null]);
    // Acknowledging deletes the entries even when the group is gone (a group made again replays from the start).
    await spillExposures(redis, ['a6'], UNBOUNDED);
    const [a6] = await readSpill(redis, 'gw-trim', 10, 60_000);
    await redis.xgroup('DESTROY', keys.exposureSpill, keys.spillGroup);
    expect(await ackSpill(redis, [a6])).toBe(1);
    expect(await spillLength(redis)).toBe(0);
  });

  it('appends more events than a call carries, in order and exactly as given, within its size bound', async () => {
    const stream = { key: 'test:{spill-many}', events: 'test:{spill-many}:events', group: 'g' };
    // Three calls of SPILL_CHUNK at most; text of 1 to 4 bytes a character; the bound cuts the third.
    const events = Array.from({ length: 2 * SPILL_CHUNK + 500 }, (_, i) => `${['e', 'é', '事', '🎉'][i % 4]}${i} ${'x'.repeat(i % 300)}`);
    const bound = 2 * SPILL_CHUNK + 200;
    expect(await spillExposures(redis, events, { maxEvents: bound, maxAgeMs: 0 }, stream)).toEqual({ spilled: bound, refused: 300, expired: 0 });
    const stored = (await redis.xrange(stream.key, '-', '+')) as [string, string[]][];
    expect(stored.map(([, fields]) => fields)).toEqual(events.slice(0, bound).map((e) => [SPILL_FIELD, e]));
    expect(await spilledEvents(redis, stream)).toBe(bound);
  });

  it('keeps packed events as one entry, counts its events against the bound, and takes them off when acknowledged or trimmed', async () => {
    const stream = { key: 'test:{spill-packed}', events: 'test:{spill-packed}:events', group: 'g' };
    await ensureSpillGroup(redis, stream);
    const bound = { maxEvents: 6, maxAgeMs: 0 };
    // An entry of three as text, one of two as bytes (the gateway's log packs them as UTF-8).
    const packed = [{ data: 'p1\np2\np3', count: 3 }, 'single', { data: Buffer.from('é1\né2'), count: 2 }];
    expect(await spillExposures(redis, packed, bound, stream)).toEqual({ spilled: 6, refused: 0, expired: 0 });
    expect(await redis.xlen(stream.key)).toBe(3);
    expect(await spilledEvents(redis, stream)).toBe(6);
    // Full: an entry that does not fit is refused whole, and so is every one after it in the call.
    expect(await spillExposures(redis, [{ data: 'q1\nq2', count: 2 }, 'q3'], bound, stream)).toEqual({ spilled: 0, refused: 3, expired: 0 });
    const read = await readSpill(redis, 'gw-packed', 10, 60_000, stream);
    expect(read.map(({ data, count }) => ({ data, count }))).toEqual([
      { data: 'p1\np2\np3', count: 3 },
      { data: 'single', count: 1 },
      { data: 'é1\né2', count: 2 },
    ]);
    expect(await ackSpill(redis, read.slice(0, 1), stream)).toBe(1);
    expect(await spilledEvents(redis, stream)).toBe(3);
    // Room for three again: the two of a packed entry and one more.
    expect(await spillExposures(redis, [{ data: 'r1\nr2', count: 2 }, 'r3', 'r4'], bound, stream)).toEqual({ spilled: 3, refused: 1, expired: 0 });
    // Trimmed by age: every event of every entry older than the bound.
    const newestAge = async () => {
      const [[id]] = (await redis.xrevrange(stream.key, '+', '-', 'COUNT', 1)) as [string, string[]][];
      const [s, us] = await redis.time();
      return Number(s) * 1000 + Math.floor(Number(us) / 1000) - Number(id.split('-')[0]);
    };
    await waitFor(async () => (await newestAge()) > 20, { what: 'every entry of the spill to age' });
    expect(await spillExposures(redis, ['s1'], { maxEvents: 6, maxAgeMs: 10 }, stream)).toEqual({ spilled: 1, refused: 0, expired: 6 });
    expect(await spilledEvents(redis, stream)).toBe(1);
    // An entry trimmed while being replayed is acknowledged without counting it twice.
    expect(await ackSpill(redis, read.slice(1), stream)).toBe(0);
    expect(await spilledEvents(redis, stream)).toBe(1);
  });

  it('counts a stream of one event an entry by its length, with no counter (ingest\'s outbox)', async () => {
    const stream = { key: 'test:{spill-self}', events: 'test:{spill-self}', group: 'g' };
    expect(await spillExposures(redis, ['x1', 'x2', 'x3'], { maxEvents: 2, maxAgeMs: 60_000 }, stream)).toEqual({ spilled: 2, refused: 1, expired: 0 });
    expect(await spilledEvents(redis, stream)).toBe(2);
    expect(await redis.type(stream.key)).toBe('stream');
    await ensureSpillGroup(redis, stream);
    const read = await readSpill(redis, 'gw-self', 10, 60_000, stream);
    const xdels = async () => Number(/cmdstat_xdel:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
    const before = await xdels();
    expect(await ackSpill(redis, read, stream)).toBe(2);
    // Its entries go in one XDEL: none has a count of its own to take off.
    expect((await xdels()) - before).toBe(1);
    expect(await spilledEvents(redis, stream)).toBe(0);
    expect(await redis.xpending(stream.key, 'g')).toEqual([0, null, null, null]);
  });

  it('counts a spill written before it had a counter by its entries, one event each', async () => {
    const stream = { key: 'test:{spill-old}', events: 'test:{spill-old}:events', group: 'g' };
    for (const e of ['o1', 'o2', 'o3']) await redis.xadd(stream.key, '*', SPILL_FIELD, e);
    expect(await spilledEvents(redis, stream)).toBe(3);
    expect(await spillExposures(redis, [{ data: 'n1\nn2', count: 2 }, 'n3'], { maxEvents: 5, maxAgeMs: 0 }, stream)).toEqual({
      spilled: 2,
      refused: 1,
      expired: 0,
    });
    expect(await spilledEvents(redis, stream)).toBe(5);
    // A stream deleted by hand holds nothing, whatever its counter said.
    await redis.del(stream.key);
    expect(await spilledEvents(redis, stream)).toBe(0);
    expect(await spillExposures(redis, ['m1'], { maxEvents: 1, maxAgeMs: 0 }, stream)).toEqual({ spilled: 1, refused: 0, expired: 0 });
    expect(await spilledEvents(redis, stream)).toBe(1);
  });
});

describe('exposure write-ahead log', () => {
  it("judges a log's heartbeat by Redis's clock, not the caller's", async () => {
    await beatWal(redis, 'wal-live');
    await writeWalBatch(redis, 'wal-live', 1, ['{"n":1}']);
    const beat = Number(await redis.zscore(keys.exposureWals, 'wal-live'));
    const [seconds, micros] = await redis.time();
    expect(Math.abs(Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - beat)).toBeLessThan(5_000);
    // Alive by Redis's clock: left alone, whatever clock the rescuer has.
    expect(await rescueStaleWals(redis, 'wal-rescuer', 60_000)).toBe(0);
    expect(await redis.hlen(keys.exposureWal('wal-live'))).toBe(1);
    // Silent for longer than the claim time by Redis's clock: moved to the spill.
    await redis.zadd(keys.exposureWals, beat - 120_000, 'wal-live');
    const before = await spillLength(redis);
    expect(await rescueStaleWals(redis, 'wal-rescuer', 60_000)).toBe(1);
    expect(await spillLength(redis)).toBe(before + 1);
    expect(await redis.exists(keys.exposureWal('wal-live'))).toBe(0);
  });

  it('rescues in two steps: a claim keeps other rescuers away, a rescuer that died mid-way is taken over, nothing is lost', async () => {
    const stale = async (walId: string) => {
      const [seconds] = await redis.time();
      await redis.zadd(keys.exposureWals, Number(seconds) * 1000 - 120_000, walId);
    };
    await writeWalBatch(redis, 'wal-dead', 2, ['{"n":3}']);
    await writeWalBatch(redis, 'wal-dead', 1, ['{"n":1}', '{"n":2}']);
    await stale('wal-dead');
    // A rescuer claims it and dies before copying anything: no other rescuer takes it for a claim period.
    expect(await redis.claimWal(keys.exposureWals, 'wal-dead', 60_000)).toBeGreaterThan(0);
    expect(await redis.claimWal(keys.exposureWals, 'wal-dead', 60_000)).toBe(-1);
    expect(await rescueStaleWals(redis, 'wal-rescuer', 60_000)).toBe(0);
    expect(await redis.hlen(keys.exposureWal('wal-dead'))).toBe(2);
    // The claim period passes (the claim's stamp is old): another rescuer moves it, oldest batch first.
    await stale('wal-dead');
    const before = await spillLength(redis);
    expect(await rescueStaleWals(redis, 'wal-rescuer', 60_000)).toBe(3);
    const spilled = (await redis.xrange(keys.exposureSpill, '-', '+')).slice(before).map(([, fields]) => fields[1]);
    expect(spilled).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);
    expect(await redis.exists(keys.exposureWal('wal-dead'))).toBe(0);
    expect(await redis.zscore(keys.exposureWals, 'wal-dead')).toBeNull();
  });

  it('keeps the registration of a process that beat while its log was being rescued (it was only paused)', async () => {
    await writeWalBatch(redis, 'wal-paused', 1, ['{"n":1}']);
    await redis.zadd(keys.exposureWals, 0, 'wal-paused');
    const stamp = await redis.claimWal(keys.exposureWals, 'wal-paused', 60_000);
    expect(stamp).toBeGreaterThan(0);
    await redis.zadd(keys.exposureWals, stamp + 1, 'wal-paused'); // its next heartbeat
    expect(await redis.releaseWal(keys.exposureWals, 'wal-paused', stamp)).toBe(0);
    expect(await redis.zscore(keys.exposureWals, 'wal-paused')).toBe(String(stamp + 1));
    // Alive by its heartbeat: a rescue leaves it alone.
    expect(await rescueWal(redis, 'wal-paused', 60_000)).toBe(0);
    expect(await redis.hlen(keys.exposureWal('wal-paused'))).toBe(1);
  });
});

describe('scripts on pipelines', () => {
  it('gives pipelines the script methods once, from the prototype, and still runs them after SCRIPT FLUSH', async () => {
    const client = redis as unknown as { scriptsSet: Record<string, unknown>; pipeline(): Record<string, unknown> };
    // ioredis copies every entry of scriptsSet onto each new pipeline (one per auto-pipelined turn).
    expect(Object.keys(client.scriptsSet)).toEqual([]);
    const pipeline = client.pipeline();
    expect(Object.keys(pipeline).filter((k) => k.startsWith('deliver') || k.startsWith('storeMessage'))).toEqual([]);
    expect(typeof pipeline.deliver).toBe('function');

    await redis.script('FLUSH');
    const [a, b] = [{ ...message('flush-a'), category: null }, { ...message('flush-b'), category: null }];
    const inbox = { cap: 100, inboxTtlSeconds: 60 };
    await Promise.all([sendToUsers(redis, a, ['flush-user'], inbox), sendToUsers(redis, b, ['flush-user'], inbox)]);
    expect(await redis.lrange(keys.inbox('flush-user'), 0, -1)).toEqual([a.id, b.id]);
  });
});

it('onSubscriberReconnect, attached after the subscriber was ready, still reports its first reconnect', async () => {
  const sub = createRedis({ REDIS_URL: server.url, REDIS_CLUSTER_NODES: undefined }, 'subscriber', 'reconnect-test');
  try {
    await sub.ssubscribe(keys.userChannel('reconnect-test'));
    // The gateway attaches its handler after awaiting its HTTP app: the connection is ready by then.
    expect(sub.status).toBe('ready');
    const reasons: string[] = [];
    onSubscriberReconnect(sub, (why) => reasons.push(why));
    await redis.client('KILL', 'TYPE', 'pubsub');
    await waitFor(() => reasons.length > 0, { what: 'the reconnect reported' });
    expect(reasons).toEqual(['the subscriber came back']);
  } finally {
    await closeRedis(sub);
  }
});
