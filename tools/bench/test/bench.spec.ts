/**
 * The bench through the same code path as `npm run bench`, with tiny parameters: one batch
 * setting, 500 events per phase, one round, on a real redis-server, Pub/Sub emulator, ingest and
 * gateway. Checks the shape of the results, not the numbers.
 */
import { runCli } from '../src/cli';
import { bench } from './bench-run';

const EVENTS = 500;

describe('npm run bench -- exposure-publisher (smoke)', () => {
  it('runs every phase, checks every event arrived once, prints the table and writes the JSON', async () => {
    const written = await bench(['exposure-publisher', '--events', String(EVENTS), '--batch-messages', '100', '--batch-ms', '5']);
    const { stdout } = written;
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
      for (const key of ['eventsPerSec', 'recordsPerSec', 'cpuUsPerEvent', 'p50Ms', 'p99Ms']) expect(typeof row[key]).toBe('number');
      expect(row.eventsPerSec as number).toBeGreaterThan(0);
      expect(row.cpuUsPerEvent as number).toBeGreaterThan(0);
    }
    for (const row of written.rows.filter((r) => r.mode !== 'direct')) {
      expect(typeof row.peakPending).toBe('number'); // sampled: a 500-event phase may fall between samples
      expect(row.spilled).toBe(0);
    }
    expect(stdout.split('\n')[0]).toMatch(/^mode\s+batch msgs\s+batch ms\s+events\/s/);
    expect(stdout.trim().split('\n')).toHaveLength(2 + 3);
  }, 60_000);

  it('lists the scenarios without one, and refuses a bad flag with the flag named', async () => {
    let out = '';
    expect((await runCli([], { stdout: (t) => (out += t), stderr: () => undefined })).exitCode).toBe(0);
    expect(out).toContain('exposure-publisher');
    let err = '';
    const bad = await runCli(['exposure-publisher', '--batch-ms', '0'], { stdout: () => undefined, stderr: (t) => (err += t) });
    expect(bad.exitCode).toBe(2);
    expect(err).toContain('--batch-ms takes whole numbers from 1');
  });
});
