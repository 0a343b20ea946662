/**
 * live-push and category-broadcast through the same code path as `npm run bench`, with tiny
 * parameters, against both targets (Herald: redis-server, Pub/Sub emulator, gateway, ingest; the
 * raw ws baseline), one round each. Checks that nothing was lost and the shape of the rows, not
 * the numbers.
 */
import { bench, expectNumbers } from './bench-run';

const ONLINE = 100;
const RATE = 500;
const SECONDS = 2;
const MEMBERS = 300;
const BROADCASTS = 2;

describe('npm run bench -- live-push / category-broadcast (smoke)', () => {
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
