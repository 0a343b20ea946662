/**
 * The write-ahead stage on a real redis-server: a turn's pushes are one batch, their frames go
 * out only once Redis has answered (the order barrier), in push order; settled batches are
 * trimmed; the heartbeat is stamped by Redis's clock; close() is idempotent and stops it.
 * (The bounded wait: exposure-log-wait.spec.ts.)
 */
import type Redis from 'ioredis';
import { keys, type HeraldRedis } from '@herald/redis';
import { startRedisServer, waitFor, type RedisServer } from '@herald/testing';
import type { Pending } from '../src/exposure/stage';
import { WalWriter } from '../src/exposure/wal-writer';
import { FRAME_KEPT_MIN_BYTES } from '../src/exposure/wal-ledger';
import { closeRedis, connect, newMetrics, silent } from './exposure-stage-rig';

const BEAT_MS = 50;

let server: RedisServer;
let log: HeraldRedis;
let oracle: HeraldRedis;
const writers: WalWriter[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  log = connect(server, 'log');
  oracle = connect(server, 'commands');
  await log.ping();
});

afterAll(async () => {
  await Promise.all(writers.map((w) => w.close()));
  await closeRedis(log);
  await closeRedis(oracle);
  await server.stop();
});

/** An exposure's parts (push-lines.ts) as the tests add them, and the line they make. */
const HEAD = Buffer.from('{"eventId":"t-');
const TAIL = Buffer.from('"s":"x"}');
const middle = (n: number | string) => Buffer.from(`","n":${JSON.stringify(n)},`);
const line = (counter: number, n: number | string) => `{"eventId":"t-${counter.toString(16).padStart(12, '0')}","n":${JSON.stringify(n)},"s":"x"}`;
const text = (e: Pending) => String(e.data);

function writer(walId: string, sent: Pending[], windowMs = 0, pack = { packMax: 100, packMaxChars: 1_000_000 }): WalWriter {
  const w = new WalWriter({
    redis: log,
    registry: oracle,
    walId,
    waitMs: 10_000,
    windowMs,
    ...pack,
    beatEveryMs: BEAT_MS,
    now: Date.now,
    ...newMetrics(),
    logger: silent,
    onSent: (event) => sent.push(event),
  });
  writers.push(w);
  return w;
}

it("writes a turn's events as one batch and lets the frames go only once Redis has answered, in push order", async () => {
  const sent: Pending[] = [];
  const w = writer('barrier', sent);
  const frames: string[] = [];
  const socket = (log as Redis).stream;
  socket.pause();
  try {
    for (const n of ['a', 'b', 'c']) w.add(`{"n":"${n}"}`, () => frames.push(n) > 0);
    // Redis holds the batch; its answer is not read yet: no frame may have gone out.
    await waitFor(async () => (await oracle.hlen(keys.exposureWal('barrier'))) === 1, { what: 'the batch in Redis' });
    expect(frames).toEqual([]);
    expect(w.waiting).toBe(3);
  } finally {
    socket.resume();
  }
  await waitFor(() => frames.length === 3, { what: 'the frames out' });
  expect(frames).toEqual(['a', 'b', 'c']);
  expect(await oracle.hgetall(keys.exposureWal('barrier'))).toEqual({ '1': '{"n":"a"}\n{"n":"b"}\n{"n":"c"}' });
  expect(sent.map((e) => e.batch)).toEqual([1, 1, 1]);

  // Once Pub/Sub (or the spill) has every event of the batch, the batch goes.
  sent.slice(0, 2).forEach((e) => w.settled(e));
  expect(await oracle.hlen(keys.exposureWal('barrier'))).toBe(1);
  w.settled(sent[2]);
  await waitFor(async () => (await oracle.exists(keys.exposureWal('barrier'))) === 0, { what: 'the settled batch trimmed' });
});

it('with a write window, the pushes of later turns inside the window share one write', async () => {
  const WINDOW_MS = 1_000;
  const sent: Pending[] = [];
  const w = writer('window', sent, WINDOW_MS);
  const frames: string[] = [];
  // The first push after a quiet spell is written at once.
  w.add('{"n":"a"}', () => frames.push('a') > 0);
  await waitFor(() => frames.length === 1, { what: 'the first frame out' });
  // Three pushes, each in its own turn, well inside the window: held, then written together.
  for (const n of ['b', 'c', 'd']) {
    w.add(`{"n":"${n}"}`, () => frames.push(n) > 0);
    await new Promise(setImmediate);
  }
  expect(frames).toEqual(['a']);
  await waitFor(() => frames.length === 4, { what: 'the held frames out' });
  expect(frames).toEqual(['a', 'b', 'c', 'd']);
  expect(await oracle.hgetall(keys.exposureWal('window'))).toEqual({ '1': '{"n":"a"}', '2': '{"n":"b"}\n{"n":"c"}\n{"n":"d"}' });
});

it('passes on only the events of pushes that happened (a closed session writes no frame)', async () => {
  const sent: Pending[] = [];
  const w = writer('gone', sent);
  w.add('{"n":"kept"}', () => true);
  w.add('{"n":"gone"}', () => false);
  await waitFor(() => sent.length === 1 && w.waiting === 0, { what: 'the batch released' });
  expect(sent.map((e) => e.data)).toEqual(['{"n":"kept"}']);
});

it('packs exposures added one after another, up to packMax to an entry, and passes each entry on whole', async () => {
  const sent: Pending[] = [];
  const w = writer('packed', sent);
  const frames: number[] = [];
  const json = (n: number) => line(n, n);
  for (let n = 0; n < 250; n++) w.addPacked(HEAD, n, middle(n), TAIL, () => frames.push(n) > 0);
  expect(w.waiting).toBe(250);
  await waitFor(() => frames.length === 250 && w.waiting === 0, { what: 'the frames out' });
  expect(frames).toEqual([...Array(250).keys()]);
  expect(sent.map((e) => e.count)).toEqual([100, 100, 50]);
  // Each Pending's data is its events one per line, in push order (the bytes of its part of the
  // batch); the log holds all of them as one batch.
  expect(sent.every((e) => Buffer.isBuffer(e.data))).toBe(true);
  const lines = sent.flatMap((e) => text(e).split('\n'));
  expect(lines).toEqual([...Array(250).keys()].map(json));
  expect(sent.map((e) => text(e).split('\n').length)).toEqual([100, 100, 50]);
  expect((await oracle.hgetall(keys.exposureWal('packed')))['1']).toBe(lines.join('\n'));
  // The batch goes once its three Pendings have settled (it counts events, not Pendings).
  w.settled(sent[0]);
  w.settled(sent[1]);
  // A later batch, settled at once: once it is trimmed, a trim has run after those two settled.
  w.addPacked(HEAD, 250, middle('later'), TAIL, () => true);
  await waitFor(() => sent.length === 4, { what: 'the later batch released' });
  w.settled(sent[3]);
  await waitFor(async () => (await oracle.hexists(keys.exposureWal('packed'), '2')) === 0, { what: 'the later batch trimmed' });
  expect(await oracle.hexists(keys.exposureWal('packed'), '1')).toBe(1);
  w.settled(sent[2]);
  await waitFor(async () => (await oracle.exists(keys.exposureWal('packed'))) === 0, { what: 'the settled batch trimmed' });
});

it('starts a new entry past packMaxChars, at a new id prefix, and where an event that goes alone comes', async () => {
  const sent: Pending[] = [];
  // Three lines and their two line breaks fit; a fourth starts a new entry.
  const bytes = line(0, 0).length;
  const w = writer('chars', sent, 0, { packMax: 100, packMaxChars: 3 * bytes + 2 });
  for (let n = 0; n < 5; n++) w.addPacked(HEAD, n, middle(n), TAIL, () => true);
  w.add('{"kind":"k"}', () => true);
  w.addPacked(HEAD, 5, middle(5), TAIL, () => true);
  // Another head (the ids' prefix changed): another entry.
  w.addPacked(Buffer.from('{"eventId":"u-'), 0, middle(6), TAIL, () => true);
  await waitFor(() => w.waiting === 0 && sent.length > 0, { what: 'the batch released' });
  expect(sent.map((e) => [e.count, text(e)])).toEqual([
    [3, [0, 1, 2].map((n) => line(n, n)).join('\n')],
    [2, [3, 4].map((n) => line(n, n)).join('\n')],
    [1, '{"kind":"k"}'],
    [1, line(5, 5)],
    [1, line(0, 6).replace('t-', 'u-')],
  ]);
  // The log holds exactly what went on, one event per line.
  expect((await oracle.hgetall(keys.exposureWal('chars')))['1']).toBe(sent.map(text).join('\n'));
});

it('passes on a packed entry without the events of pushes that did not happen', async () => {
  const sent: Pending[] = [];
  const w = writer('packed-gone', sent);
  const gone = new Set([1, 4]);
  for (let n = 0; n < 6; n++) w.addPacked(HEAD, n, middle(n), TAIL, () => !gone.has(n));
  w.addPacked(HEAD, 6, middle('all gone'), TAIL, () => false);
  await waitFor(() => sent.length === 1 && w.waiting === 0, { what: 'the batch released' });
  expect(sent.map((e) => [e.count, text(e)])).toEqual([[4, [0, 2, 3, 5].map((n) => line(n, n)).join('\n')]]);
  // Its four events are all the batch waits for.
  w.settled(sent[0]);
  await waitFor(async () => (await oracle.exists(keys.exposureWal('packed-gone'))) === 0, { what: 'the settled batch trimmed' });
});

it("writes a later large batch into an earlier one's bytes only once all of that one's events have settled", async () => {
  const sent: Pending[] = [];
  const w = writer('reuse', sent);
  // Lines of ~340 bytes: 250 of them make a batch above FRAME_KEPT_MIN_BYTES.
  const n = (c: number) => `${c}-${'p'.repeat(300)}`;
  /** A batch of 250 packed exposures from counter `from`; resolves with its Pendings once they went on. */
  const batch = async (from: number) => {
    const before = sent.length;
    for (let c = from; c < from + 250; c++) w.addPacked(HEAD, c, middle(n(c)), TAIL, () => true);
    await waitFor(() => w.waiting === 0 && sent.length === before + 3, { what: `batch from ${from} out` });
    return sent.slice(before);
  };
  const lines = (from: number) => [...Array(250).keys()].map((i) => line(from + i, n(from + i)));
  /** The memory a batch's events are views of (one for the whole batch). */
  const bytesOf = (events: Pending[]) => {
    const memory = new Set(events.map((e) => (e.data as Buffer).buffer));
    expect(memory.size).toBe(1);
    return [...memory][0];
  };
  const first = await batch(0);
  expect(bytesOf(first).byteLength).toBeGreaterThanOrEqual(FRAME_KEPT_MIN_BYTES);
  // The first batch's events wait for Pub/Sub: the next batch has bytes of its own.
  first.slice(0, 2).forEach((e) => w.settled(e));
  const second = await batch(250);
  expect(bytesOf(second)).not.toBe(bytesOf(first));
  expect(first.flatMap((e) => text(e).split('\n'))).toEqual(lines(0));
  // Every event of the first settled: a later batch is written into its bytes, and is what it must be.
  w.settled(first[2]);
  const third = await batch(500);
  expect(bytesOf(third)).toBe(bytesOf(first));
  expect(third.flatMap((e) => text(e).split('\n'))).toEqual(lines(500));
  expect(second.flatMap((e) => text(e).split('\n'))).toEqual(lines(250));
  expect((await oracle.hgetall(keys.exposureWal('reuse')))['3']).toBe(lines(500).join('\n'));
});

it("beats by Redis's clock; close() is idempotent, stops the beat, and retire() removes log and registration", async () => {
  const w = writer('beating', []);
  const first = await waitFor(async () => oracle.zscore(keys.exposureWals, 'beating'), { what: 'registered' });
  await waitFor(async () => Number(await oracle.zscore(keys.exposureWals, 'beating')) > Number(first), { what: 'a second beat' });
  const [seconds] = await oracle.time();
  expect(Math.abs(Number(seconds) * 1000 - Number(first))).toBeLessThan(5_000);

  const closing = w.close();
  expect(w.close()).toBe(closing);
  await closing;
  const last = await oracle.zscore(keys.exposureWals, 'beating');
  // Ten beat periods: a beat still running would have moved the score.
  await new Promise((resolve) => setTimeout(resolve, BEAT_MS * 10));
  expect(await oracle.zscore(keys.exposureWals, 'beating')).toBe(last);

  await oracle.hset(keys.exposureWal('beating'), '7', '{}');
  await w.retire();
  expect(await oracle.exists(keys.exposureWal('beating'))).toBe(0);
  expect(await oracle.zscore(keys.exposureWals, 'beating')).toBeNull();
});
