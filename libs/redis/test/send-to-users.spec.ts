/**
 * The write protocol composed (sendToUsers): the body stored before any note
 * names it, the body and the first chunk of deliveries in one write, the note liveNote picks,
 * batches, repeatable sends, and the counts of a send that fails part-way, on a real
 * redis-server. The callers (ingest, the gateway's harness, the benchmarks) run exactly this.
 */
import { INBOX_DEFAULT_CAP } from '@herald/types';
import { waitFor } from '@herald/testing';
import {
  DeliveryError,
  keys,
  loadMessages,
  newMessage,
  sendToUsers,
  type HeraldRedis,
  type Notification,
} from '../src';
import { useNoteRecorder } from './private-redis';

let redis: HeraldRedis;
/** Every note received, per user id (subscribed with `listen`). */
const notes = new Map<string, Notification[]>();
const listen = useNoteRecorder('send-test', notes, (commands) => (redis = commands));

const INBOX = { cap: INBOX_DEFAULT_CAP, inboxTtlSeconds: 3600 };
const users = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const inboxes = (userIds: string[]) => Promise.all(userIds.map((u) => redis.lrange(keys.inbox(u), 0, -1)));

/**
 * How many times the redis-server read from its clients' sockets while `run` ran: its
 * `total_reads_processed`, before and after, less the read of the second INFO. Only the commands
 * connection sends anything meanwhile (the note recorder's subscriber only receives).
 */
async function serverReads(run: () => Promise<unknown>): Promise<number> {
  const reads = async () => Number(/total_reads_processed:(\d+)/.exec(await redis.info('stats'))![1]);
  const before = await reads();
  await run();
  return (await reads()) - before - 1;
}

it('makes a message with a fresh id, its creation time and its expiry', () => {
  const m = newMessage({ payload: { a: 1 }, ttlMs: 5000, createdAt: Date.UTC(2026, 0, 1) });
  expect(m).toMatchObject({ category: null, payload: { a: 1 }, createdAt: '2026-01-01T00:00:00.000Z', expiresAt: Date.UTC(2026, 0, 1) + 5000 });
  expect(m.id).toMatch(/^[0-9a-f-]{36}$/);
  expect(newMessage({ payload: 1, ttlMs: 1 }).id).not.toBe(m.id);
  expect(newMessage({ payload: 1, ttlMs: 1, id: 'given', category: 'news' })).toMatchObject({ id: 'given', category: 'news' });
});

it('stores the body with its TTL, then delivers to every user with the body inside the note', async () => {
  const userIds = users('few', 3);
  await listen(userIds);
  const message = newMessage({ payload: 'hello', ttlMs: 60_000 });

  expect(await sendToUsers(redis, message, userIds, INBOX)).toEqual({ delivered: 3, skipped: 0, dropped: 0, replaced: 0, droppedIds: [] });

  expect(await inboxes(userIds)).toEqual(userIds.map(() => [message.id]));
  const [body] = await loadMessages(redis, [message.id]);
  expect(body?.toString()).toContain('"payload":"hello"');
  expect(await redis.pttl(keys.message(message.id))).toBeGreaterThan(55_000);
  expect(await redis.ttl(keys.inbox(userIds[0]))).toBeGreaterThan(3500);
  await waitFor(() => userIds.every((u) => notes.get(u)?.length === 1), { what: 'a note per user' });
  expect(notes.get(userIds[0])![0]).toMatchObject({ kind: 'message', message: { id: message.id } });
});

it('sends the body and the first chunk of deliveries as one write: the redis-server reads it once', async () => {
  const userIds = users('one-write', 3);
  await listen(userIds);
  const first = newMessage({ payload: 'loads the deliver script', ttlMs: 60_000 });
  await sendToUsers(redis, first, userIds, INBOX);
  const message = newMessage({ payload: 'one write', ttlMs: 60_000 });

  expect(await serverReads(() => sendToUsers(redis, message, userIds, INBOX))).toBe(1);
  // Two chunks: the second waits for the first's replies.
  expect(await serverReads(() => sendToUsers(redis, newMessage({ payload: 'two', ttlMs: 60_000 }), userIds, { ...INBOX, batchSize: 2 }))).toBe(2);

  expect((await inboxes(userIds)).map((inbox) => inbox.slice(0, 2))).toEqual(userIds.map(() => [first.id, message.id]));
  await waitFor(() => userIds.every((u) => notes.get(u)?.length === 3), { what: 'three notes per user' });
  expect(notes.get(userIds[2])![1]).toMatchObject({ kind: 'message', message: { id: message.id } });
});

it('sends a reference when the copies would be too many bytes (liveNote), and the body is there to read', async () => {
  const userIds = users('wide', 5);
  await listen(userIds);
  const message = newMessage({ payload: 'x'.repeat(250_000), ttlMs: 60_000 });

  await sendToUsers(redis, message, userIds, INBOX);

  await waitFor(() => userIds.every((u) => notes.get(u)?.length === 1), { what: 'a note per user' });
  expect(notes.get(userIds[4])).toEqual([{ kind: 'ref', id: message.id }]);
  expect((await loadMessages(redis, [message.id]))[0]).not.toBeNull();
});

it('delivers a long list in batches, and stops between batches once aborted', async () => {
  const userIds = users('batched', 25);
  const message = newMessage({ payload: 1, ttlMs: 60_000 });
  expect(await sendToUsers(redis, message, userIds, { ...INBOX, batchSize: 10 })).toMatchObject({ delivered: 25 });
  expect(await inboxes(userIds)).toEqual(userIds.map(() => [message.id]));

  const aborted = new AbortController();
  aborted.abort();
  const late = newMessage({ payload: 2, ttlMs: 60_000 });
  await expect(sendToUsers(redis, late, userIds, { ...INBOX, batchSize: 10, signal: aborted.signal })).rejects.toThrow(/abort/i);
  // Checked before the first chunk, which carries the body: nothing was written.
  expect((await inboxes(userIds)).flat()).not.toContain(late.id);
  expect(await redis.exists(keys.message(late.id))).toBe(0);
});

it('repeats a send without duplicating an id, even for a user who acknowledged it since (unique, remembered)', async () => {
  const userIds = users('repeat', 3);
  const message = newMessage({ payload: 'once', ttlMs: 60_000 });
  const repeatable = { ...INBOX, unique: true, rememberSeconds: 60 };
  await sendToUsers(redis, message, userIds.slice(0, 2), repeatable);
  await redis.del(keys.inbox(userIds[0])); // acknowledged since

  expect(await sendToUsers(redis, message, userIds, repeatable)).toEqual({ delivered: 1, skipped: 2, dropped: 0, replaced: 0, droppedIds: [] });
  expect(await inboxes(userIds)).toEqual([[], [message.id], [message.id]]);
});

it('counts the ids the cap dropped, and says which (oldest first) from whose inbox', async () => {
  const [u, v] = users('capped', 2);
  const sent: string[] = [];
  for (let i = 0; i < 3; i++) {
    const m = newMessage({ payload: i, ttlMs: 60_000 });
    sent.push(m.id);
    await sendToUsers(redis, m, [u], { ...INBOX, cap: 2 });
  }
  expect(await sendToUsers(redis, newMessage({ payload: 3, ttlMs: 60_000 }), [v, u], { ...INBOX, cap: 2 })).toMatchObject({
    dropped: 1,
    droppedIds: [{ userId: u, messageId: sent[1] }],
  });
  expect(await redis.llen(keys.inbox(u))).toBe(2);
});

it('runs every delivery of a send that fails part-way and reports what it did, all batches counted', async () => {
  const userIds = users('part', 6);
  // The last user's inbox key holds a string: its deliver script fails (WRONGTYPE), as a real
  // Redis error; the others, in this batch and the one before, are delivered.
  await redis.set(keys.inbox(userIds[5]), 'not a list');
  const message = newMessage({ payload: 'part', ttlMs: 60_000 });
  const failure = await sendToUsers(redis, message, userIds, { ...INBOX, batchSize: 3 }).catch((err: unknown) => err);

  expect(failure).toBeInstanceOf(DeliveryError);
  const { counts, failed, cause } = failure as DeliveryError;
  expect({ counts, failed }).toEqual({ counts: { delivered: 5, skipped: 0, dropped: 0, replaced: 0, droppedIds: [] }, failed: 1 });
  expect(String(cause)).toMatch(/WRONGTYPE/);
  expect((failure as Error).message).toMatch(/1 deliveries failed \(5 made\): .*WRONGTYPE/);
  expect(await inboxes(userIds.slice(0, 5))).toEqual(userIds.slice(0, 5).map(() => [message.id]));
});
