/**
 * The connection-load scenarios through the same code path as `npm run bench`, with tiny numbers,
 * on a real redis-server, Pub/Sub emulator, gateways and load-client processes. Checks that
 * everything arrived, not how fast.
 */
import { bench, expectNumbers } from './bench-run';

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
