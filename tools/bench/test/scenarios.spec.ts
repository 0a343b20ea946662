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
import { SCENARIOS } from '../src/scenarios';

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

/**
 * Per scenario: its arguments; its cases (`caseOf` each row, in order); what every row holds
 * exactly; figures every row has as numbers, and as numbers above 0; any further checks.
 */
type Smoke = {
  args: string[]; caseOf(row: Row): unknown; cases: unknown[]; every: Row; numbers: string[]; positive?: string[];
  more?(result: Awaited<ReturnType<typeof bench>>): void;
};

const SMOKE: Record<string, Smoke> = {
  'exposure-publisher': {
    args: ['--events', '500', '--batch-messages', '100', '--batch-ms', '5'],
    caseOf: (r) => r.mode, cases: ['burst', 'paced', 'direct'],
    every: { batchMessages: 100, batchMs: 5, events: 500, delivered: 500, duplicates: 0, exactlyOnce: true },
    numbers: ['recordsPerSec', 'p50Ms', 'p99Ms'], positive: ['eventsPerSec', 'cpuUsPerEvent'],
    more: ({ rows, parameters, file }) => {
      expect(file).toMatch(/exposure-publisher-\d{8}T\d{6}Z\.json$/);
      expect(parameters).toMatchObject({ events: 500, 'batch-messages': [100], 'batch-ms': [5], rounds: 1 });
      // peakPending is sampled: a 500-event phase may fall between samples.
      for (const row of rows.filter((r) => r.mode !== 'direct')) expect(row).toMatchObject({ peakPending: expect.any(Number), spilled: 0 });
    },
  },
  'exposure-pipeline': {
    // The direct source mixes other kinds in: one event in two of a user is an `opened` about the exposure before it.
    args: ['--rate', '1000', '--seconds', '2', '--online', '50', '--client-procs', '1', '--mix-every', '2'],
    caseOf: (r) => r.source, cases: ['gateway', 'direct'],
    every: {
      rate: 1000, events: 2000, published: 2000, publishFailed: 0, lost: 0, duplicateRows: 0, deadLetters: 0,
      failedBatches: 0, stalled: false, targetMet: false, // 2,000 events a second, short of the 20k target
    },
    numbers: ['offeredPerSec', 'p50Ms', 'p99Ms', 'consumerCpuUsPerEvent', 'batchRows', 'batchMeanMs'], positive: ['storedPerSec', 'batches'],
    more: ({ rows, parameters }) => {
      for (const row of rows) {
        expect(row.e2eSeconds as number).toBeGreaterThanOrEqual(2 - 0.1);
        if (String(parameters.postgres).startsWith('embedded')) expect(typeof row.postgresCpuUsPerEvent).toBe('number');
      }
      expect(rows[0]).toMatchObject({ sent: 2000, spilled: 0, stored: 2000, rows: 2000, others: 0 });
      expect(rows[1]).toMatchObject({ stored: 1000, rows: 1000, others: 1000 });
      expect(parameters).toMatchObject({ 'mix-every': 2 });
    },
  },
  'live-push': {
    args: ['--online', '100', '--rate', '500', '--seconds', '2', '--warmup', '0'],
    caseOf: (r) => r.target, cases: ['herald', 'baseline'],
    every: { online: 100, sent: 1000, received: 1000, lost: 0, outOfOrder: 0, closed: 0, failed: 0, notes: expect.stringContaining('cores shared') },
    numbers: ['msgsPerSec', 'p50Ms', 'p99Ms', 'maxMs', 'cpuUsPerMsg', 'serverCpuPct', 'rssMiB', 'rssKiBPerConn', 'producerLagMs'],
    more: ({ rows: [herald, baseline] }) => {
      expect(herald).toMatchObject({ exposures: 1000, exposuresUnlogged: 0, msgsPerSecX: expect.any(Number), p99X: expect.any(Number), cpuX: expect.any(Number), rssPerConnX: expect.any(Number) });
      expect(baseline).toMatchObject({ exposures: null, exposuresUnlogged: null, msgsPerSecX: null });
    },
  },
  'api-floor': {
    args: ['--rates', '200', '--seconds', '1', '--warmup', '0', '--users', '10', '--connections', '4'],
    caseOf: (r) => r.server, cases: ['http', 'fastify', 'fastify-redis', 'ingest'],
    every: { rate: 200, sent: 200, failed: 0 },
    numbers: ['serverUs', 'xHttp', 'redisUs', 'loadUs', 'producerLagMs'],
    more: ({ rows: [http] }) => expect(http.xHttp).toBe(1),
  },
  'category-broadcast': {
    args: ['--members', '300', '--broadcasts', '2'],
    caseOf: (r) => `${r.target} ${r.broadcast}`, cases: ['herald 1', 'herald 2', 'baseline 1', 'baseline 2'],
    every: { members: 300, received: 300, lost: 0, outOfOrder: 0, closed: 0 },
    numbers: ['firstMs', 'p50Ms', 'p99Ms', 'lastMs', 'cpuUsPerMember', 'rssKiBPerConn'],
    more: ({ rows }) => {
      for (const herald of rows.slice(0, 2)) {
        expect(herald).toMatchObject({ exposures: 300, exposuresUnlogged: 0, acceptedMs: expect.any(Number), lastX: expect.any(Number), p50X: expect.any(Number) });
      }
      for (const baseline of rows.slice(2)) expect(baseline).toMatchObject({ exposures: null, exposuresSpilled: null, exposuresUnlogged: null });
    },
  },
  'category-memory': {
    args: ['--members', '200', '--messages', '3'],
    caseOf: (r) => r.design, cases: ['log (stored once)', 'offline lists (replaced)'],
    every: { members: 200, messages: 3 },
    numbers: ['bytesPerMember'], positive: ['bytesPerMessage', 'bytesPerMemberMessage', 'totalMB'],
    more: ({ rows: [log, lists] }) => {
      // The point of the design: a message's cost does not grow with the members.
      expect(lists.bytesPerMessage as number).toBeGreaterThan(10 * (log.bytesPerMessage as number));
    },
  },
  idle: {
    args: ['--connections', '200', '--gateways', '2', '--settle-seconds', '2'],
    caseOf: (r) => r.connections, cases: [200],
    every: {
      gateways: 2, held: 200, heldAll: true, failed: 0, unexpectedFrames: 0, closedBeforeEnd: 0, liveRecipients: 200, liveReceived: 200,
      liveAllReceived: true,
    },
    numbers: ['rssPerConnKB', 'connectSeconds', 'liveSeconds', 'liveCpuMs'],
  },
  'reconnect-storm': {
    args: ['--users', '200', '--messages', '3'],
    caseOf: (r) => r.users, cases: [200],
    every: { messages: 3, delivered: 600, acked: 600, inboxLeft: 0, pushed: 600, failed: 0, unexpectedFrames: 0, closedBeforeEnd: 0 },
    numbers: [], positive: ['seconds', 'deliveredSeconds', 'connectSeconds', 'cpuPerMsgUs', 'peakRssMB'],
  },
};

describe.each(Object.entries(SMOKE))('%s (smoke)', (name, smoke) => {
  it('loses nothing, gives every case its figures, prints the table and writes the JSON', async () => {
    const result = await bench([name, ...smoke.args]);
    expect(result).toMatchObject({ scenario: name, machine: { cores: expect.any(Number), node: process.version } });
    expect(Number.isNaN(Date.parse(result.date))).toBe(false);
    expect(result.rows.map(smoke.caseOf)).toEqual(smoke.cases);
    for (const row of result.rows) {
      expect(row).toMatchObject(smoke.every);
      expectNumbers(row, smoke.numbers);
      for (const key of smoke.positive ?? []) expect({ key, positive: (row[key] as number) > 0 }).toEqual({ key, positive: true });
    }
    smoke.more?.(result);
    const [header, , ...lines] = result.stdout.trimEnd().split('\n');
    expect(header.trim().split(/\s{2,}/)).toEqual(SCENARIOS.find((s) => s.name === name)!.columns.map((c) => c.label ?? c.key));
    expect(lines).toHaveLength(result.rows.length);
  }, 120_000);
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
    expectNumbers(herald, ['ingestUs', 'consumerUs', 'consumerUsPerEvent', 'emulatorUs', 'cpuX', 'cpuXSio', 'p99X', 'p99XSio']);
    // The consumer's events of every kind: the exposures and ingest's `sent` records (one a message at most).
    expect(herald.storedEvents as number).toBeGreaterThan(SENT);
    expect(herald.storedEvents as number).toBeLessThanOrEqual(2 * SENT);
    expect(herald.consumerUsPerEvent as number).toBeLessThan(herald.consumerUs as number);
    // How long ingest took to answer (the peers' producers write to Redis: no answer).
    expectNumbers(herald, ['answerP50Ms', 'answerP99Ms']);
    expect(herald.answerP50Ms as number).toBeLessThanOrEqual(herald.answerP99Ms as number);
    if (String(parameters.postgres).startsWith('embedded')) expectNumbers(herald, ['postgresUs']);
    expect(rows[1]).toMatchObject({ ingestUs: null, stored: null, cpuX: null, answerP50Ms: null, consumerUsPerEvent: null });
    expect(stdout.split('\n')[0]).toMatch(/^target\s+mode\s+rate\s+sent\s+received\s+lost/);
  }, 90_000);

  it('category-broadcast --interval-ms --gateways 2: broadcasts on a schedule reach every member of Socket.IO, ws and ws-ack over two server processes each, one row per target', async () => {
    const args = ['--members', '100', '--broadcasts', '3', '--interval-ms', '200', '--gateways', '2', '--target', 'socketio,ws,ws-ack'];
    const { rows } = await bench(['category-broadcast', ...args]);
    expect(rows.map((r) => `${r.target} ${r.broadcast}`)).toEqual(['socketio 3 × 200 ms', 'baseline 3 × 200 ms', 'ws-ack 3 × 200 ms']);
    for (const row of rows) {
      expect(row).toMatchObject({ members: 100, received: 300, lost: 0, outOfOrder: 0, closed: 0 });
      expectNumbers(row, ['firstMs', 'p50Ms', 'lastMs', 'lastMaxMs', 'cpuUsPerMember']);
      expect(row.lastMs as number).toBeLessThanOrEqual(row.lastMaxMs as number);
    }
    // ws-ack's servers read every member's ack of every broadcast, summed; the raw baseline's clients send none.
    expect(rows.map((r) => r.acksRead)).toEqual([null, null, 300]);
    expect(rows[2].notes).toContain("reads its clients' acks");
    for (const row of rows) expect(row.notes).toContain('2 baseline servers (CPU summed)');
  }, 60_000);

  it('api-floor --mode batch: the floor servers answer POST /v1/messages/batch as ingest does, an id a message', async () => {
    const args = ['--mode', 'batch', '--batch-size', '20', '--batch-ms', '10', '--rates', '400', '--seconds', '1', '--warmup', '0', '--users', '10', '--connections', '4'];
    const { rows } = await bench(['api-floor', ...args]);
    expect(rows.map((r) => r.server)).toEqual(['http', 'fastify', 'fastify-redis', 'ingest']);
    for (const row of rows) {
      // The producer counts a message failed unless its item of the answer has an id.
      expect(row).toMatchObject({ mode: 'batch', rate: 400, sent: 400, failed: 0 });
      expectNumbers(row, ['serverUs', 'xHttp', 'redisUs']);
    }
  }, 60_000);
});
