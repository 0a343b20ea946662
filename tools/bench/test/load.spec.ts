/**
 * The connection-load scenarios through the same code path as `npm run bench`, with tiny
 * numbers, on a real redis-server, Pub/Sub emulator and gateway processes, with real load-client
 * processes: idle (200 connections on 2 gateways, every user gets a live message) and the
 * reconnect storm (200 users x 3 offline messages, everything delivered and acked). Checks that
 * everything arrived, not how fast.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../src/cli';
import type { Row } from '../src/scenario';

async function bench(argv: string[], resultsDir: string): Promise<{ rows: Row[]; stdout: string }> {
  let stdout = '';
  let stderr = '';
  const outcome = await runCli([...argv, '--rounds', '1'], { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), resultsDir });
  if (outcome.exitCode !== 0 || !outcome.result) throw new Error(`bench ${argv.join(' ')} failed:\n${stderr}`);
  return { rows: outcome.result.rows, stdout };
}

describe('connection-load scenarios (smoke)', () => {
  let resultsDir: string;
  beforeAll(() => (resultsDir = mkdtempSync(join(tmpdir(), 'herald-bench-load-'))));
  afterAll(() => rmSync(resultsDir, { recursive: true, force: true }));

  it('idle: 200 connections on 2 gateways are all held, and every user receives a live message', async () => {
    const { rows, stdout } = await bench(['idle', '--connections', '200', '--gateways', '2', '--settle-seconds', '2'], resultsDir);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      gateways: 2,
      connections: 200,
      held: 200,
      heldAll: true,
      failed: 0,
      unexpectedFrames: 0,
      closedBeforeEnd: 0,
      liveRecipients: 200,
      liveReceived: 200,
      liveAllReceived: true,
    });
    for (const key of ['rssPerConnKB', 'connectSeconds', 'liveSeconds', 'liveCpuMs']) expect(typeof rows[0][key]).toBe('number');
    expect(stdout.split('\n')[0]).toMatch(/^gateways\s+connections\s+held/);
  }, 40_000);

  it('reconnect-storm: 200 users x 3 offline messages are all delivered and acked, the inboxes empty', async () => {
    const { rows } = await bench(['reconnect-storm', '--users', '200', '--messages', '3'], resultsDir);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ users: 200, messages: 3, delivered: 600, acked: 600, inboxLeft: 0, pushed: 600, failed: 0, unexpectedFrames: 0, closedBeforeEnd: 0 });
    for (const key of ['seconds', 'deliveredSeconds', 'connectSeconds', 'cpuPerMsgUs', 'peakRssMB']) {
      expect(rows[0][key] as number).toBeGreaterThan(0);
    }
  }, 40_000);
});
