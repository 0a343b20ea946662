/**
 * Every scenario through the same code path as `npm run bench` (`--rounds 1`, a throwaway results
 * folder), with tiny parameters, on real processes: redis-server, the Pub/Sub emulator, ingest,
 * gateways, exposure-consumers with Postgres, the raw ws baseline and the load-client processes.
 * Checks that nothing was lost and the shape of the rows and the table, not the numbers.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../src/cli';
import type { BenchResult } from '../src/report';
import type { Row } from '../src/scenario';

/** The result as written to its file, and what went to stdout and stderr; throws with stderr when the run fails. */
async function bench(argv: string[]): Promise<BenchResult & { file: string; stdout: string; stderr: string }> {
  const resultsDir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
  let [stdout, stderr] = ['', ''];
  try {
    const io = { stdout: (t: string) => void (stdout += t), stderr: (t: string) => void (stderr += t), resultsDir };
    const { exitCode, file } = await runCli([...argv, '--rounds', '1'], io);
    if (exitCode !== 0 || !file) throw new Error(`bench ${argv.join(' ')} exited with ${exitCode}:\n${stderr}`);
    return { ...(JSON.parse(readFileSync(file, 'utf8')) as BenchResult), file, stdout, stderr };
  } finally {
    rmSync(resultsDir, { recursive: true, force: true });
  }
}

function expectNumbers(row: Row, keys: readonly string[]): void {
  for (const key of keys) expect({ key, type: typeof row[key] }).toEqual({ key, type: 'number' });
}

describe('exposure-publisher (smoke)', () => {
  const EVENTS = 500;

  it('runs every phase, checks every event arrived once, prints the table and writes the JSON', async () => {
    const written = await bench(['exposure-publisher', '--events', String(EVENTS), '--batch-messages', '100', '--batch-ms', '5']);
    expect(written.stderr).toContain('burst');
    expect(written.file).toMatch(/exposure-publisher-\d{8}T\d{6}Z\.json$/);
    expect(written).toMatchObject({
      scenario: 'exposure-publisher',
      parameters: { events: EVENTS, 'batch-messages': [100], 'batch-ms': [5], rounds: 1 },
      machine: { cpuModel: expect.any(String), cores: expect.any(Number), memoryGiB: expect.any(Number), node: process.version },
    });
    expect(Number.isNaN(Date.parse(written.date))).toBe(false);
    expect(written.rows.map((r) => r.mode)).toEqual(['burst', 'paced', 'direct']);
    for (const row of written.rows) {
      expect(row).toMatchObject({ batchMessages: 100, batchMs: 5, events: EVENTS, delivered: EVENTS, duplicates: 0, exactlyOnce: true });
      expectNumbers(row, ['eventsPerSec', 'recordsPerSec', 'cpuUsPerEvent', 'p50Ms', 'p99Ms']);
      expect(row.eventsPerSec as number).toBeGreaterThan(0);
      expect(row.cpuUsPerEvent as number).toBeGreaterThan(0);
    }
    for (const row of written.rows.filter((r) => r.mode !== 'direct')) {
      expect(typeof row.peakPending).toBe('number'); // sampled: a 500-event phase may fall between samples
      expect(row.spilled).toBe(0);
    }
    expect(written.stdout.split('\n')[0]).toMatch(/^mode\s+batch msgs\s+batch ms\s+events\/s/);
    expect(written.stdout.trim().split('\n')).toHaveLength(2 + 3);
  }, 60_000);
});

describe('exposure-pipeline (smoke)', () => {
  const RATE = 1000;
  const SECONDS = 2;
  const EVENTS = RATE * SECONDS;

  it('stores every event of both sources in Postgres exactly once, with throughput, latency, CPU and batch figures', async () => {
    const args = ['--rate', String(RATE), '--seconds', String(SECONDS), '--online', '50', '--client-procs', '1'];
    const { rows, parameters, stdout, stderr } = await bench(['exposure-pipeline', ...args]);
    expect(stderr).toContain('warm-up');

    expect(rows.map((r) => r.source)).toEqual(['gateway', 'direct']);
    for (const row of rows) {
      const exact = { rate: RATE, events: EVENTS, published: EVENTS, publishFailed: 0, stored: EVENTS, rows: EVENTS, lost: 0 };
      expect(row).toMatchObject({ ...exact, duplicateRows: 0, deadLetters: 0, failedBatches: 0, stalled: false });
      expectNumbers(row, ['storedPerSec', 'offeredPerSec', 'e2eSeconds', 'p50Ms', 'p99Ms', 'consumerCpuUsPerEvent', 'batchRows', 'batchMeanMs']);
      expect(row.storedPerSec as number).toBeGreaterThan(0);
      expect(row.p50Ms as number).toBeLessThanOrEqual(row.p99Ms as number);
      expect(row.e2eSeconds as number).toBeGreaterThanOrEqual(SECONDS - 0.1);
      expect(row.batches as number).toBeGreaterThan(0);
      // 2,000 events a second short of the 20k target.
      expect(row.targetMet).toBe(false);
      if (String(parameters.postgres).startsWith('embedded')) expect(typeof row.postgresCpuUsPerEvent).toBe('number');
    }
    expect(rows[0]).toMatchObject({ sent: EVENTS, spilled: 0 });
    expect(stdout.split('\n')[0]).toMatch(/^source\s+published\s+stored\s+lost/);
    expect(stdout.trim().split('\n')).toHaveLength(2 + 2);
  }, 120_000);
});

describe('live-push / category-broadcast (smoke)', () => {
  const ONLINE = 100;
  const RATE = 500;
  const SECONDS = 2;
  const MEMBERS = 300;
  const BROADCASTS = 2;

  it('live-push: every message reaches its user in order on both targets, with latency, CPU and memory per target', async () => {
    const args = ['live-push', '--online', String(ONLINE), '--rate', String(RATE), '--seconds', String(SECONDS), '--warmup', '0'];
    const { rows, stdout } = await bench(args);
    expect(rows.map((r) => r.target)).toEqual(['herald', 'baseline']);
    for (const row of rows) {
      expect(row).toMatchObject({ online: ONLINE, sent: RATE * SECONDS, received: RATE * SECONDS, lost: 0, outOfOrder: 0, closed: 0, failed: 0 });
      expectNumbers(row, ['msgsPerSec', 'p50Ms', 'p99Ms', 'maxMs', 'cpuUsPerMsg', 'serverCpuPct', 'rssMiB', 'rssKiBPerConn', 'producerLagMs']);
      expect(row.p50Ms as number).toBeLessThanOrEqual(row.p99Ms as number);
      expect(row.notes).toContain('cores shared');
    }
    const [herald, baseline] = rows;
    expect(herald.exposures).toBe(RATE * SECONDS);
    expectNumbers(herald, ['msgsPerSecX', 'p99X', 'cpuX', 'rssPerConnX']);
    expect(baseline).toMatchObject({ exposures: null, msgsPerSecX: null });
    expect(stdout.split('\n')[0]).toMatch(/^target\s+sent\s+received\s+lost\s+msg\/s/);
  }, 60_000);

  it('category-broadcast: every member gets every broadcast on both targets, first/median/last times per broadcast', async () => {
    const { rows } = await bench(['category-broadcast', '--members', String(MEMBERS), '--broadcasts', String(BROADCASTS)]);
    expect(rows.map((r) => `${r.target} ${r.broadcast}`)).toEqual(['herald 1', 'herald 2', 'baseline 1', 'baseline 2']);
    for (const row of rows) {
      expect(row).toMatchObject({ members: MEMBERS, received: MEMBERS, lost: 0, outOfOrder: 0, closed: 0 });
      expectNumbers(row, ['firstMs', 'p50Ms', 'p99Ms', 'lastMs', 'cpuUsPerMember', 'rssKiBPerConn']);
      expect(row.firstMs as number).toBeLessThanOrEqual(row.p50Ms as number);
      expect(row.p50Ms as number).toBeLessThanOrEqual(row.lastMs as number);
    }
    for (const herald of rows.filter((r) => r.target === 'herald')) {
      expect(herald.exposures).toBe(MEMBERS);
      expectNumbers(herald, ['acceptedMs', 'lastX', 'p50X']);
    }
  }, 60_000);
});

describe('connection-load scenarios (smoke)', () => {
  it('idle: 200 connections on 2 gateways are all held, and every user receives a live message', async () => {
    const { rows, stdout } = await bench(['idle', '--connections', '200', '--gateways', '2', '--settle-seconds', '2']);
    expect(rows).toHaveLength(1);
    const held = { gateways: 2, connections: 200, held: 200, heldAll: true, failed: 0, unexpectedFrames: 0, closedBeforeEnd: 0 };
    expect(rows[0]).toMatchObject({ ...held, liveRecipients: 200, liveReceived: 200, liveAllReceived: true });
    expectNumbers(rows[0], ['rssPerConnKB', 'connectSeconds', 'liveSeconds', 'liveCpuMs']);
    expect(stdout.split('\n')[0]).toMatch(/^gateways\s+connections\s+held/);
  }, 40_000);

  it('reconnect-storm: 200 users x 3 offline messages are all delivered and acked, the inboxes empty', async () => {
    const { rows } = await bench(['reconnect-storm', '--users', '200', '--messages', '3']);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ users: 200, messages: 3, delivered: 600, acked: 600, inboxLeft: 0, pushed: 600, failed: 0, unexpectedFrames: 0, closedBeforeEnd: 0 });
    for (const key of ['seconds', 'deliveredSeconds', 'connectSeconds', 'cpuPerMsgUs', 'peakRssMB']) expect(rows[0][key] as number).toBeGreaterThan(0);
  }, 40_000);
});

describe('api-push / Socket.IO baseline (smoke)', () => {
  /** 300 msg/s for 2 s. */
  const [RATE, SENT] = [300, 600];

  it('api-push: every message through ingest reaches its user, is stored as an exposure; Socket.IO and ws at the same rate', async () => {
    const args = ['--online', '50', '--rates', String(RATE), '--seconds', '2', '--warmup', '0', '--mode', 'single', '--client-procs', '1'];
    const { rows, parameters, stdout } = await bench(['api-push', ...args, '--target', 'herald,socketio,ws']);
    expect(rows.map((r) => `${r.target} ${r.mode}`)).toEqual(['herald single', 'socketio emitter', 'baseline publish']);
    for (const row of rows) {
      expect(row).toMatchObject({ rate: RATE, sent: SENT, failed: 0, received: SENT, lost: 0, closed: 0 });
      // Requests in flight together have no order between them (a user's two messages may be); the peers' PUBLISHes do.
      if (row.target !== 'herald') expect(row.outOfOrder).toBe(0);
      expectNumbers(row, ['p50Ms', 'p99Ms', 'maxMs', 'serverUs', 'redisUs', 'loadUs', 'producerLagMs', 'outOfOrder']);
      expect(row.p50Ms as number).toBeLessThanOrEqual(row.p99Ms as number);
    }
    const [herald] = rows;
    expect(herald).toMatchObject({ exposures: SENT, stored: SENT });
    expectNumbers(herald, ['ingestUs', 'consumerUs', 'emulatorUs', 'cpuX', 'cpuXSio', 'p99X', 'p99XSio']);
    if (String(parameters.postgres).startsWith('embedded')) expectNumbers(herald, ['postgresUs']);
    expect(rows[1]).toMatchObject({ ingestUs: null, stored: null, cpuX: null });
    expect(stdout.split('\n')[0]).toMatch(/^target\s+mode\s+rate\s+sent\s+received\s+lost/);
  }, 90_000);

  it('category-broadcast --interval-ms: broadcasts on a schedule reach every member on Socket.IO and ws, one row per target', async () => {
    const { rows } = await bench(['category-broadcast', '--members', '100', '--broadcasts', '3', '--interval-ms', '200', '--target', 'socketio,ws']);
    expect(rows.map((r) => `${r.target} ${r.broadcast}`)).toEqual(['socketio 3 × 200 ms', 'baseline 3 × 200 ms']);
    for (const row of rows) {
      expect(row).toMatchObject({ members: 100, received: 300, lost: 0, outOfOrder: 0, closed: 0 });
      expectNumbers(row, ['firstMs', 'p50Ms', 'lastMs', 'lastMaxMs', 'cpuUsPerMember']);
      expect(row.lastMs as number).toBeLessThanOrEqual(row.lastMaxMs as number);
    }
  }, 60_000);
});
