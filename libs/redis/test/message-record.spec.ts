/**
 * A message's record (message-record.ts): written with the body by the one write protocol, for a
 * list of users and for a category, living as long as the body; a recalled record stops a later
 * store of the same id (a retry under an Idempotency-Key after a recall), on a real redis-server.
 */
import {
  keys,
  MessageRecalledError,
  newMessage,
  publishToCategory,
  fireScheduled,
  readRecord,
  scheduleRecord,
  sendToUsers,
  storeMessage,
  type HeraldRedis,
} from '../src';
import { useNoteRecorder } from './private-redis';

let redis: HeraldRedis;
useNoteRecorder('record-test', new Map(), (commands) => (redis = commands));

const INBOX = { cap: 100, inboxTtlSeconds: 3600 };

it('keeps the producer, the recipients and the times of a message to users, as long as its body', async () => {
  const message = newMessage({ payload: 'hi', ttlMs: 60_000 });
  await sendToUsers(redis, message, ['ann', 'bob'], { ...INBOX, record: { producer: 'svc-a', replaceKey: 'comments' } });

  expect(await readRecord(redis, message.id)).toEqual({
    id: message.id,
    state: 'sent',
    producer: 'svc-a',
    category: null,
    userIds: ['ann', 'bob'],
    replaceKey: 'comments',
    createdAt: Date.parse(message.createdAt),
    expiresAt: message.expiresAt,
    ttlSeconds: null,
    version: 1,
    updatedAt: null,
    recalledAt: null,
    sendAt: null,
  });
  // Both read in one MULTI, at the same moment: two reads in a row drifted apart on a busy machine.
  const [[, ttl], [, bodyTtl]] = (await redis.multi().pttl(keys.messageRecord(message.id)).pttl(keys.message(message.id)).exec()) as [
    [null, number],
    [null, number],
  ];
  expect(ttl).toBeGreaterThan(50_000);
  expect(ttl).toBeLessThanOrEqual(bodyTtl + 50);
});

it('keeps the category of a category message, and nothing for an unknown id', async () => {
  const message = newMessage({ payload: 1, ttlMs: 60_000, category: 'news' });
  await publishToCategory(redis, message, 'news', { cap: 100, lifetimeSeconds: 3600, record: { producer: 'svc-b' } });
  expect(await readRecord(redis, message.id)).toMatchObject({ state: 'sent', producer: 'svc-b', category: 'news', userIds: [] });
  expect(await readRecord(redis, 'no-such-id')).toBeNull();
});

it('stores nothing for a message whose record says recalled', async () => {
  const message = newMessage({ payload: 'again', ttlMs: 60_000 });
  await redis.hset(keys.messageRecord(message.id), 'state', 'recalled');
  await expect(storeMessage(redis, message, ['ann'])).rejects.toBeInstanceOf(MessageRecalledError);
  expect(await redis.exists(keys.message(message.id))).toBe(0);
  expect(await readRecord(redis, message.id)).toMatchObject({ state: 'recalled' });
});

describe('a scheduled message', () => {
  const scheduled = (id: string, sendAt: number) => ({ id, sendAt, ttlSeconds: 60, category: null, userIds: ['ann'], input: { producer: 'svc-c' } });

  it('is recorded once, fires once with one send time no earlier than sendAt, and is left alone when sent', async () => {
    const sendAt = Date.now() + 3_600_000; // in an hour: the send time comes from sendAt, not Redis's clock
    expect(await scheduleRecord(redis, scheduled('sched-1', sendAt))).toBe('created');
    expect(await scheduleRecord(redis, scheduled('sched-1', sendAt + 1))).toBe('scheduled');
    expect(await readRecord(redis, 'sched-1')).toMatchObject({ state: 'scheduled', producer: 'svc-c', sendAt, ttlSeconds: 60, createdAt: null, expiresAt: null });
    expect(await redis.pttl(keys.messageRecord('sched-1'))).toBeGreaterThan(3_600_000 + 60_000);

    expect(await fireScheduled(redis, 'sched-1')).toEqual({ send: sendAt });
    expect(await fireScheduled(redis, 'sched-1')).toEqual({ send: sendAt }); // a job run again
    expect(await readRecord(redis, 'sched-1')).toMatchObject({ state: 'sending', createdAt: sendAt });
    await redis.hset(keys.messageRecord('sched-1'), 'state', 'sent');
    expect(await fireScheduled(redis, 'sched-1')).toEqual({ skip: 'sent' });
  });

  it('takes its send time from Redis once sendAt has passed', async () => {
    const sendAt = Date.now() - 60_000;
    await scheduleRecord(redis, scheduled('sched-2', sendAt));
    const fired = await fireScheduled(redis, 'sched-2');
    expect('send' in fired && fired.send).toBeGreaterThan(sendAt + 50_000);
  });

  it('does not fire when recalled or missing', async () => {
    await scheduleRecord(redis, scheduled('sched-3', Date.now()));
    await redis.hset(keys.messageRecord('sched-3'), 'state', 'recalled');
    expect(await fireScheduled(redis, 'sched-3')).toEqual({ skip: 'recalled' });
    expect(await fireScheduled(redis, 'sched-none')).toEqual({ skip: 'missing' });
  });
});
