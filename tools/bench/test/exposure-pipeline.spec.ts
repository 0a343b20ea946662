/**
 * exposure-pipeline through the same code path as `npm run bench`, with tiny parameters: 2,000
 * events a source (1,000/s for 2 s, after a 1 s warm-up that must not be counted), from a gateway
 * pushing to 50 acking clients and from the direct publisher, each into a fresh Postgres through a
 * real exposure-consumer. Checks that every event made was stored exactly once, and the shape of
 * the rows, not the speed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../src/cli';

const RATE = 1000;
const SECONDS = 2;
const EVENTS = RATE * SECONDS;

describe('npm run bench -- exposure-pipeline (smoke)', () => {
  let resultsDir: string;
  beforeAll(() => (resultsDir = mkdtempSync(join(tmpdir(), 'herald-bench-pipeline-'))));
  afterAll(() => rmSync(resultsDir, { recursive: true, force: true }));

  it('stores every event of both sources in Postgres exactly once, with throughput, latency, CPU and batch figures', async () => {
    let stdout = '';
    let stderr = '';
    const args = ['--rate', String(RATE), '--seconds', String(SECONDS), '--online', '50', '--client-procs', '1', '--rounds', '1'];
    const outcome = await runCli(['exposure-pipeline', ...args], { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), resultsDir });
    if (outcome.exitCode !== 0) throw new Error(`bench exited with ${outcome.exitCode}:\n${stderr}`);
    expect(stderr).toContain('warm-up');

    const { rows, parameters } = outcome.result!;
    expect(rows.map((r) => r.source)).toEqual(['gateway', 'direct']);
    for (const row of rows) {
      expect(row).toMatchObject({
        rate: RATE,
        events: EVENTS,
        published: EVENTS,
        publishFailed: 0,
        stored: EVENTS,
        rows: EVENTS,
        lost: 0,
        duplicateRows: 0,
        deadLetters: 0,
        failedBatches: 0,
        stalled: false,
      });
      for (const key of ['storedPerSec', 'offeredPerSec', 'e2eSeconds', 'p50Ms', 'p99Ms', 'consumerCpuUsPerEvent', 'batchRows', 'batchMeanMs']) {
        expect({ key, type: typeof row[key] }).toEqual({ key, type: 'number' });
      }
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
