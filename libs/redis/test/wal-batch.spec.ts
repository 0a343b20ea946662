/**
 * The exposure log's batch is encoded by Herald straight into the command's frame
 * (joined-command.ts): what Redis stores must be exactly the events joined by newlines, whatever
 * they hold, and a buffer must not be reused while ioredis may still send the command it carried.
 * A batch prepared for its caller to write (prepareWalBatch) stores exactly the bytes written.
 */
import { createHash } from 'node:crypto';
import { closeRedis, createRedis, keys, prepareWalBatch, sendWalBatch, writeWalBatch, type HeraldRedis } from '../src';
import { usePrivateRedis } from './private-redis';

let url = '';
let redis: HeraldRedis;
usePrivateRedis('wal-batch', (server, commands) => {
  url = server.url;
  redis = commands;
});

const stored = (walId: string, batch: number) => redis.hget(keys.exposureWal(walId), String(batch));
/** A large batch compared by digest: a multi-megabyte reply would keep ioredis' parser pool timer running after the tests. */
const storedDigest = (walId: string, batch: number) =>
  redis.eval("return redis.sha1hex(redis.call('HGET', KEYS[1], ARGV[1]))", 1, keys.exposureWal(walId), String(batch));
const digest = (text: string) => createHash('sha1').update(text).digest('hex');

it('stores a batch as its events joined by newlines, for any text and any size', async () => {
  const texts = [
    '{"eventId":"a","userId":"ascii"}',
    '{"userId":"zoë","category":"café"}',
    '{"userId":"用户","category":"🎉 launch"}',
    '{"escaped":"a\\nb \\"q\\" \\u2028"}',
    '{}',
  ];
  await writeWalBatch(redis, 'wal-text', 1, texts);
  expect(await stored('wal-text', 1)).toBe(texts.join('\n'));

  await writeWalBatch(redis, 'wal-text', 2, []);
  expect(await stored('wal-text', 2)).toBe('');

  // A batch as a broadcast makes (~6 MB), then smaller ones that reuse its buffer.
  const big = Array.from({ length: 20_000 }, (_, i) => `{"eventId":"e-${i}","userId":"ü-${i}","pad":"${'x'.repeat(i % 400)}"}`);
  await writeWalBatch(redis, 'wal-big', 1, big);
  await writeWalBatch(redis, 'wal-big', 2, big.slice(0, 3));
  await writeWalBatch(redis, 'wal-big', 3, ['{"last":true}']);
  expect(await storedDigest('wal-big', 1)).toBe(digest(big.join('\n')));
  expect(await stored('wal-big', 2)).toBe(big.slice(0, 3).join('\n'));
  expect(await stored('wal-big', 3)).toBe('{"last":true}');
});

it('sends a batch again after a reconnect as it was, even when a later batch was encoded meanwhile', async () => {
  const log = createRedis({ REDIS_URL: url, REDIS_CLUSTER_NODES: undefined }, 'log', 'wal-resend');
  try {
    // Killed with commands unread, the connection may be reset (ECONNRESET, EPIPE): expected here.
    log.on('error', () => undefined);
    const id = await log.client('ID');
    // Redis holds write commands: the first batch is sent and left unanswered.
    await redis.call('CLIENT', 'PAUSE', '20000', 'WRITE');
    const firstEvents = ['{"batch":1,"n":"one"}', '{"batch":1,"n":"two"}'];
    const first = writeWalBatch(log, 'wal-resend', 1, firstEvents);
    // The connection drops with it unanswered: ioredis sends it again once reconnected.
    const closed = new Promise((resolve) => log.once('close', resolve));
    await redis.client('KILL', 'ID', String(id));
    await closed;
    const secondEvents = ['{"batch":2,"longer":"than the first batch, so a reused frame would be cut or garbled"}'];
    const second = writeWalBatch(log, 'wal-resend', 2, secondEvents);
    await new Promise((resolve) => log.once('ready', resolve));
    await redis.call('CLIENT', 'UNPAUSE');
    await Promise.all([first, second]);
    expect(await stored('wal-resend', 1)).toBe(firstEvents.join('\n'));
    expect(await stored('wal-resend', 2)).toBe(secondEvents.join('\n'));
  } finally {
    await redis.call('CLIENT', 'UNPAUSE');
    await closeRedis(log);
  }
});

it('a prepared batch stores exactly the bytes its caller wrote, which stay the caller\'s after', async () => {
  const text = ['{"eventId":"p-1","userId":"zoë"}', '{"eventId":"p-2","category":"🎉"}'].join('\n');
  const bytes = Buffer.from(text);
  const prepared = prepareWalBatch('wal-prepared', 7, bytes.length);
  expect(prepared.data.length).toBe(bytes.length);
  bytes.copy(prepared.data);
  const view = prepared.data.subarray(0, 10);
  await sendWalBatch(redis, prepared);
  expect(await stored('wal-prepared', 7)).toBe(text);
  // Nothing reuses the frame: a view kept by the caller still reads what it wrote.
  await writeWalBatch(redis, 'wal-prepared', 8, ['{"other":"batch, written after it"}']);
  expect(view.toString()).toBe(text.slice(0, 10));

  const empty = prepareWalBatch('wal-prepared', 9, 0);
  await sendWalBatch(redis, empty);
  expect(await stored('wal-prepared', 9)).toBe('');
});
