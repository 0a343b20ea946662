/**
 * exposure-publisher through the same code path as `npm run bench`, with tiny parameters (one
 * batch setting, 500 events per phase) on a real redis-server, Pub/Sub emulator, ingest and
 * gateway. Checks the shape of the results, not the numbers.
 */
import { bench, expectNumbers } from './bench-run';

const EVENTS = 500;

describe('npm run bench -- exposure-publisher (smoke)', () => {
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
