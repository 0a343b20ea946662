/**
 * The exposure write-ahead log never holds a push for longer than its wait bound, on a real
 * redis-server: a log write whose answer does not come (the log connection's socket stops being
 * read, as when Redis stalls) lets the frames go after EXPOSURE_LOG_WAIT_MS, counted `unlogged`,
 * and the batch written late after all is trimmed from the log; a refused write (Redis out of
 * memory) lets them go at once, and packed exposures go on unlogged as the lines they were made.
 */
import type Redis from 'ioredis';
import { Registry } from 'prom-client';
import { createLogger } from '@herald/logger';
import { closeRedis, createRedis, keys, type HeraldRedis } from '@herald/redis';
import { metricValue, startRedisServer, waitFor, type RedisServer } from '@herald/testing';
import { createGatewayMetrics } from '../src/metrics';
import { WalWriter } from '../src/exposure/wal-writer';
import type { Pending } from '../src/exposure/stage';

const WAIT_MS = 300;

let server: RedisServer;
let log: HeraldRedis;
let oracle: HeraldRedis;
const registry = new Registry();
const metrics = createGatewayMetrics(registry);
const sent: Pending[] = [];
let wal: WalWriter;

beforeAll(async () => {
  server = await startRedisServer();
  const config = { REDIS_URL: server.url, REDIS_CLUSTER_NODES: undefined };
  log = createRedis(config, 'log', 'test');
  oracle = createRedis(config, 'commands', 'test');
  await log.ping();
  wal = new WalWriter({
    redis: log,
    registry: oracle,
    walId: 'wait-test',
    waitMs: WAIT_MS,
    windowMs: 0,
    packMax: 100,
    packMaxChars: 1_000_000,
    beatEveryMs: 60_000,
    now: Date.now,
    metrics,
    logger: createLogger({ app: 'gateway-test', level: 'silent' }),
    onSent: (event) => sent.push(event),
  });
});

afterAll(async () => {
  await wal?.close();
  await closeRedis(log);
  await closeRedis(oracle);
  await server.stop();
});

const unlogged = async () => metricValue(await registry.metrics(), 'herald_exposures_published_total', 'outcome="unlogged"');

/** Records `n` events; resolves with the ms until every push went out. */
async function pushes(n: number, tag: string): Promise<number> {
  const started = Date.now();
  let out = 0;
  for (let i = 0; i < n; i++) {
    wal.add(`{"n":"${tag}-${i}"}`, () => {
      out++;
      return true;
    });
  }
  await waitFor(() => out === n, { timeoutMs: 10_000, intervalMs: 5, what: `${n} pushes out` });
  return Date.now() - started;
}

it('lets pushes go once their events are logged', async () => {
  await pushes(3, 'ok');
  expect(sent.slice(-3).map((e) => e.batch > 0)).toEqual([true, true, true]);
  expect(await oracle.hlen(keys.exposureWal('wait-test'))).toBe(1);
  expect(await unlogged()).toBe(0);
});

it('lets pushes go after the wait bound when the log does not answer, and trims the batch written late', async () => {
  const socket = (log as Redis).stream;
  socket.pause();
  let waited: number;
  try {
    waited = await pushes(4, 'slow');
  } finally {
    socket.resume();
  }
  expect(waited).toBeGreaterThanOrEqual(WAIT_MS - 20);
  expect(sent.slice(-4).every((e) => e.batch === 0)).toBe(true);
  expect(await unlogged()).toBe(4);
  // The write landed after all: its batch is dropped (only the first test's stays).
  await waitFor(async () => (await oracle.hlen(keys.exposureWal('wait-test'))) === 1, { what: 'the late batch trimmed' });
});

it("a batch written late keeps its bytes to itself: its events went on unlogged as views of them", async () => {
  const head = Buffer.from('{"eventId":"l-');
  const tail = Buffer.from('"s":"x"}');
  // Lines of ~1.5 KB: 50 of them make a batch above FRAME_KEPT_MIN_BYTES (a smaller one is not kept).
  const pad = 'p'.repeat(1500);
  const line = (c: number) => `{"eventId":"l-${c.toString(16).padStart(12, '0')}","n":"${c}-${pad}","s":"x"}`;
  const packed = async (from: number, n: number): Promise<Pending[]> => {
    const before = sent.length;
    let out = 0;
    for (let c = from; c < from + n; c++) wal.addPacked(head, c, Buffer.from(`","n":"${c}-${pad}",`), tail, () => ++out > 0);
    await waitFor(() => out === n && sent.length > before, { timeoutMs: 10_000, what: `${n} packed pushes out` });
    return sent.slice(before);
  };
  /** Packed pushes until a batch of them is logged (the log is skipped for a backoff after a failure). */
  const loggedAgain = async (from: number) => {
    let logged: Pending[] = [];
    await waitFor(
      async () => {
        logged = await packed(from, 50);
        return logged[0].batch > 0;
      },
      { what: 'a batch logged again' },
    );
    return logged;
  };
  (await loggedAgain(1000)).forEach((e) => wal.settled(e));
  await waitFor(async () => (await oracle.hlen(keys.exposureWal('wait-test'))) === 1, { what: 'that batch trimmed' });
  const socket = (log as Redis).stream;
  socket.pause();
  let late: Pending[];
  try {
    late = await packed(0, 50);
  } finally {
    socket.resume();
  }
  expect(late.map((e) => [e.batch, e.count, Buffer.isBuffer(e.data)])).toEqual([[0, 50, true]]);
  const lines = [...Array(50).keys()].map(line);
  await waitFor(async () => (await oracle.hlen(keys.exposureWal('wait-test'))) === 1, { what: 'the late batch trimmed' });
  // Logged again: a batch that settles at once, then the next one.
  const logged = await loggedAgain(100);
  logged.forEach((e) => wal.settled(e));
  const next = await packed(200, 50);
  for (const events of [logged, next]) expect((events[0].data as Buffer).buffer).not.toBe((late[0].data as Buffer).buffer);
  // The late batch's events, still on their way to Pub/Sub, read as they were made.
  expect(String(late[0].data).split('\n')).toEqual(lines);
});

it('lets pushes go at once when Redis refuses the write (out of memory)', async () => {
  // The log works again (after the last failure's backoff), so the next write is tried.
  await waitFor(
    async () => {
      await pushes(1, 'again');
      return sent[sent.length - 1].batch > 0;
    },
    { what: 'a push logged again' },
  );
  const before = await unlogged();
  await oracle.config('SET', 'maxmemory', '1');
  try {
    const waited = await pushes(5, 'oom');
    expect(waited).toBeLessThan(WAIT_MS);
  } finally {
    await oracle.config('SET', 'maxmemory', '0');
  }
  expect((await unlogged()) - before).toBe(5);
});

it('exposures packed while the log fails, or is skipped after a failure, go out unlogged, each line as it was made', async () => {
  const head = Buffer.from('{"eventId":"w-');
  const tail = Buffer.from('"s":"x"}');
  const line = (c: number) => `{"eventId":"w-${c.toString(16).padStart(12, '0')}","n":${c},"s":"x"}`;
  /** Adds the exposures of counters from..from+n-1 (push-lines.ts parts); returns how many went out. */
  const packed = (from: number, n: number) => {
    let out = 0;
    for (let c = from; c < from + n; c++) wal.addPacked(head, c, Buffer.from(`","n":${c},`), tail, () => ++out > 0);
    return () => out;
  };
  const count = sent.length;
  await oracle.config('SET', 'maxmemory', '1');
  try {
    const refused = packed(0, 3);
    await waitFor(() => refused() === 3, { what: 'the first three out' });
    // The failure's backoff runs now: these are not tried against the log.
    const skipped = packed(3, 4);
    await waitFor(() => skipped() === 4, { what: 'the next four out' });
  } finally {
    await oracle.config('SET', 'maxmemory', '0');
  }
  const mine = sent.slice(count);
  expect(mine.map((e) => [e.batch, e.count, Buffer.isBuffer(e.data)])).toEqual([
    [0, 3, true],
    [0, 4, true],
  ]);
  expect(mine.map((e) => String(e.data))).toEqual([[0, 1, 2].map(line).join('\n'), [3, 4, 5, 6].map(line).join('\n')]);
});
