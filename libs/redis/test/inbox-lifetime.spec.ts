/**
 * What a delivery leaves behind in a user's slot, on a real redis-server: the inbox expires the
 * longest message TTL after its last write, and a delivery under an idempotency key is
 * remembered (bounded, expiring) so that a retry skips a user who already acknowledged the id.
 */
import Redis from 'ioredis';
import { waitFor, type RedisServer } from '@herald/testing';
import {
  ALREADY_DELIVERED,
  deliverToUser,
  keys,
  readInbox,
  refNote,
  removeFromInbox,
  type HeraldRedis,
} from '../src';
import { usePrivateRedis } from './private-redis';

const DAY = 24 * 3600;
const MONTH = 30 * DAY;

let server: RedisServer;
let redis: HeraldRedis;

usePrivateRedis('lifetime-test', (s, r) => ([server, redis] = [s, r]));

it('gives the inbox the longest message TTL on a delivery, and each delivery starts it again', async () => {
  await deliverToUser(redis, 'ttl-user', 'm1', refNote('m1'), { cap: 10, inboxTtlSeconds: MONTH });
  const first = await redis.ttl(keys.inbox('ttl-user'));
  expect(first).toBeGreaterThan(MONTH - 10);
  expect(first).toBeLessThanOrEqual(MONTH);

  // Time passes (the TTL runs down); the next delivery starts it again.
  await redis.expire(keys.inbox('ttl-user'), 60);
  await deliverToUser(redis, 'ttl-user', 'm2', refNote('m2'), { cap: 10, inboxTtlSeconds: MONTH });
  expect(await redis.ttl(keys.inbox('ttl-user'))).toBeGreaterThan(MONTH - 10);
  expect(await readInbox(redis, 'ttl-user')).toEqual(['m1', 'm2']);
});

it('skips, on a retry under the same key, a user who already acknowledged the id, without notifying', async () => {
  const sub = new Redis(server.url);
  const notes: string[] = [];
  sub.on('smessage', (_channel, note: string) => notes.push(note));
  try {
    await sub.ssubscribe(keys.userChannel('acker'));
    const opts = { cap: 10, inboxTtlSeconds: MONTH, unique: true, rememberSeconds: DAY };

    expect(await deliverToUser(redis, 'acker', 'k1', refNote('k1'), opts)).toEqual({ dropped: 0, replaced: 0 });
    expect(await removeFromInbox(redis, 'acker', ['k1'])).toBe(1); // the user acknowledged it
    expect(await deliverToUser(redis, 'acker', 'k1', refNote('k1'), opts)).toEqual({ dropped: ALREADY_DELIVERED, replaced: 0 });
    expect(await readInbox(redis, 'acker')).toEqual([]);

    await deliverToUser(redis, 'acker', 'end', refNote('end'), { cap: 10, inboxTtlSeconds: MONTH });
    await waitFor(() => notes.includes('rend'), { what: 'the last notification' });
    expect(notes).toEqual(['rk1', 'rend']);
  } finally {
    sub.disconnect();
  }

  // Remembered for the idempotency TTL, no longer.
  const ttl = await redis.ttl(keys.idempotentDeliveries('acker'));
  expect(ttl).toBeGreaterThan(DAY - 10);
  expect(ttl).toBeLessThanOrEqual(DAY);
});

it('remembers at most `cap` idempotent deliveries per user, and none without a key', async () => {
  const opts = { cap: 3, inboxTtlSeconds: MONTH, unique: true, rememberSeconds: DAY };
  for (let i = 0; i < 5; i++) await deliverToUser(redis, 'busy', `b${i}`, refNote(`b${i}`), opts);
  expect(await redis.zrange(keys.idempotentDeliveries('busy'), 0, -1)).toEqual(['b2', 'b3', 'b4']);

  await deliverToUser(redis, 'plain', 'p1', refNote('p1'), { cap: 3, inboxTtlSeconds: MONTH });
  expect(await redis.exists(keys.idempotentDeliveries('plain'))).toBe(0);
});
