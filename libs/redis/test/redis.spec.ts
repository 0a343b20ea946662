import Redis from 'ioredis';
import { startRedisServer, type RedisServer } from '@herald/testing';
import {
  createRedis,
  closeRedis,
  decodeMessage,
  encodeMessage,
  deliverToUser,
  keys,
  readInbox,
  removeFromInbox,
  storeMessage,
  loadMessages,
  parseNotification,
  replaceUserCategories,
  getUserCategories,
  type HeraldRedis,
} from '../src';

let server: RedisServer;
let redis: HeraldRedis;

beforeAll(async () => {
  server = await startRedisServer();
  redis = createRedis({ REDIS_URL: server.url, REDIS_CLUSTER_NODES: undefined }, 'commands', 'test');
});
afterAll(async () => {
  await closeRedis(redis);
  await server.stop();
});

const message = (id: string, ttlMs = 60_000) => ({
  id,
  category: 'news' as string | null,
  payload: { text: 'a|b|c' },
  createdAt: new Date().toISOString(),
  expiresAt: Date.now() + ttlMs,
});

it('encodes a message once and decodes the header back, frame intact', () => {
  const m = message('m1');
  const decoded = decodeMessage(encodeMessage(m));
  expect(decoded).toMatchObject({ id: 'm1', category: 'news', expiresAt: m.expiresAt });
  expect(JSON.parse(decoded!.frame)).toEqual({ type: 'message', id: 'm1', category: 'news', payload: m.payload, createdAt: m.createdAt });
  expect(decodeMessage('garbage')).toBeNull();
  expect(parseNotification('x')).toBeNull();
  expect(parseNotification('c["a"]')).toEqual({ kind: 'categories', categories: ['a'] });
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
  sub.on('message', (_c, m: string) => notes.push(m));
  await sub.subscribe(keys.userChannel('u1'));
  let dropped = 0;
  for (let i = 0; i < 5; i++) dropped += await deliverToUser(redis, 'u1', `id${i}`, encodeMessage(message(`id${i}`)), 3);
  expect(dropped).toBe(2);
  expect(await readInbox(redis, 'u1')).toEqual(['id2', 'id3', 'id4']);
  await sub.ping();
  expect(notes.map((n) => (parseNotification(n) as { message: { id: string } }).message.id)).toEqual(['id0', 'id1', 'id2', 'id3', 'id4']);
  expect(await removeFromInbox(redis, 'u1', ['id3', 'unknown'])).toBe(1);
  expect(await readInbox(redis, 'u1')).toEqual(['id2', 'id4']);
  sub.disconnect();
});

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
