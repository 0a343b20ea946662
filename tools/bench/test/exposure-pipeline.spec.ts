/**
 * exposure-pipeline through the same code path as `npm run bench`, with tiny parameters: 2,000
 * events a source (1,000/s for 2 s, after a 1 s warm-up that must not be counted), from a gateway
 * pushing to 50 acking clients and from the direct publisher, each into a fresh Postgres through a
 * real exposure-consumer. Checks that every event made was stored exactly once, and the shape of
 * the rows, not the speed.
 */
import { bench, expectNumbers } from './bench-run';

const RATE = 1000;
const SECONDS = 2;
const EVENTS = RATE * SECONDS;

describe('npm run bench -- exposure-pipeline (smoke)', () => {
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
