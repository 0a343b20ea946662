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
  readRecord,
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
    version: 1,
    updatedAt: null,
    recalledAt: null,
    sendAt: null,
  });
  const ttl = await redis.pttl(keys.messageRecord(message.id));
  expect(ttl).toBeGreaterThan(50_000);
  expect(ttl).toBeLessThanOrEqual(await redis.pttl(keys.message(message.id)) + 50);
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
