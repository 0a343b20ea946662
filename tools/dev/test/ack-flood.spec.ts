/**
 * An ack flood against the gateway process, from outside: one user's 20 sockets each send 80
 * ack frames a second (just under WS_MAX_FRAMES_PER_SECOND) of 400 made-up and repeated ids for
 * 10 s, reconnecting whenever they are closed or refused. Meanwhile another user's messages
 * still arrive fast, the gateway keeps serving, and Redis does no work for the ids nobody was
 * sent: every LREM it ran (INFO commandstats counts those inside scripts too) is one of the other
 * user's acks. Twice: with the default limits (the flooding sessions are cut off with 4008 and the
 * user's reconnects refused for WS_ABUSE_COOLDOWN_MS), and with the cut-off out of reach, so that
 * the gateway reads and ignores the whole flood (there the latency bound is not asserted).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Redis from 'ioredis';
import { keys } from '@herald/redis';
import { REPO_ROOT, signToken, startTestStack, waitFor, type Stack } from '@herald/testing';
import { StackClient } from './support/stack-client';

const FLOOD_MS = 10_000;
const FLOOD_SOCKETS = 20;
const FRAMES_PER_SECOND = 80;
/** A flooding socket that was closed connects again after this pause. */
const RECONNECT_MS = 100;
/**
 * A send of the measured user every this many ms, one at a time: 300+ samples over the flood, so
 * that the p99 is the 4th slowest or later. With 100 it was the 2nd, and one stall of the shared
 * machine (213 ms once in CI) failed the bound. Each message costs one ack frame (50 a second,
 * under WS_MAX_FRAMES_PER_SECOND's 100).
 */
const SEND_EVERY_MS = 20;
const MIN_SAMPLES = 300;
const P99_LIMIT_MS = 100;

/** The flooder process (support/ack-flooder.ts): `started` once it floods, `done` with its summary. */
function startFlooder(url: string, token: string): { started: Promise<void>; done: Promise<FloodStats> } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(__dirname, 'support', 'ack-flooder.ts'), url, token, String(FLOOD_SOCKETS), String(FRAMES_PER_SECOND), String(FLOOD_MS), String(RECONNECT_MS)],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines: string[] = [];
  let started!: () => void;
  const startedPromise = new Promise<void>((resolve) => (started = resolve));
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    if (line === 'flooding') started();
  });
  const done = new Promise<FloodStats>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      started();
      if (code === 0) resolve(JSON.parse(lines[lines.length - 1]) as FloodStats);
      else reject(new Error(`the flooder exited with ${code}`));
    });
  });
  return { started: startedPromise, done };
}

interface FloodStats {
  frames: number;
  connections: number;
  closes: Record<string, number>;
  refused: Record<string, number>;
}

describe.each([
  ['default limits', {}, true],
  ['the cut-off out of reach', { WS_MAX_IGNORED_ACK_IDS: '1000000' }, false],
] as const)('ack flood, %s', (name, env, cutOff) => {
  let stack: Stack;
  let c: StackClient;
  let redis: Redis;

  beforeAll(async () => {
    ({ stack } = await startTestStack(
      { EXPOSURE_TOPIC: `exposures-ack-flood-${cutOff ? 'cut' : 'read'}`, ...env },
      { withoutConsumer: true },
    ));
    c = await StackClient.create(stack);
    redis = new Redis(stack.redis!.url);
  }, 120_000);

  afterAll(async () => {
    redis?.disconnect();
    await stack?.stop();
  }, 60_000);

  /** Calls of one command in `INFO commandstats` (0 when it never ran). */
  async function commandCalls(command: string): Promise<number> {
    const info = await redis.info('commandstats');
    return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  }

  it('keeps another user at low latency and costs Redis no LREM for ids nobody was sent', async () => {
    const measured = `measured-${Date.now()}`;
    const flooder = `flooder-${Date.now()}`;
    const receiver = await c.connect(measured);
    const arrived = new Map<string, number>();
    receiver.ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type: string; id?: string };
      if (frame.type === 'message' && frame.id) arrived.set(frame.id, performance.now());
    });
    await redis.config('RESETSTAT');

    const flood = startFlooder(c.wsUrl(), await signToken(flooder));
    await flood.started;
    let flooding = true;
    const finished = flood.done.finally(() => (flooding = false));

    const latencies: number[] = [];
    const acked: string[] = [];
    /** An id acked already, to ack once more in the next frame. */
    let again: string | undefined;
    while (flooding) {
      const slot = performance.now();
      const id = await c.send([measured], { n: latencies.length });
      const at = await waitFor(() => arrived.get(id), { timeoutMs: 3000, intervalMs: 1, what: `message ${id}` }).catch(() => Infinity);
      latencies.push(at - slot);
      if (at !== Infinity) {
        // Every tenth message is acked twice in its frame and once more in the next one: Redis sees
        // it once. (Each repeat is an ignored id, and WS_MAX_IGNORED_ACK_IDS allows a connection
        // 1,000: repeating every message's ids would cut the measured user off at ~500 sends.)
        const repeat = acked.length % 10 === 0;
        receiver.ack([id, ...(repeat ? [id] : []), ...(again ? [again] : [])]);
        again = repeat ? id : undefined;
        acked.push(id);
      }
      const rest = SEND_EVERY_MS - (performance.now() - slot);
      if (rest > 0) await new Promise((r) => setTimeout(r, rest)); // rate pacing, not a condition
    }
    const stats = await finished;

    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.ceil(latencies.length * 0.99) - 1];
    const p50 = latencies[Math.floor(latencies.length / 2)];
    process.stdout.write(
      `ack flood (${name}): ${latencies.length} sends, p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, ` +
        `flood ${JSON.stringify(stats)}\n`,
    );
    // The gateway survived it (its last output says why when it did not).
    const gateway = stack.apps.gateway;
    expect({ exitCode: gateway.child.exitCode, output: gateway.child.exitCode === null ? '' : gateway.recentOutput() }).toEqual({
      exitCode: null,
      output: '',
    });
    // As shipped, the p99 bound holds over 300+ sends. With the cut-off out of reach the gateway
    // parses ~1,600 frames of 15 KB a second; every message must still arrive within 3 s (its
    // latencies are printed above; on a busy 2-core machine they vary too much to assert).
    if (cutOff) {
      expect(latencies.length).toBeGreaterThanOrEqual(MIN_SAMPLES);
      expect(p99).toBeLessThan(P99_LIMIT_MS);
    } else {
      expect(latencies[latencies.length - 1]).toBeLessThan(Infinity);
    }

    // Redis did one LREM per id the measured user acked, none for the flood.
    await waitFor(async () => (await c.acksApplied()) >= acked.length, { what: `${acked.length} acks applied` });
    expect(await commandCalls('lrem')).toBe(acked.length);
    expect(await redis.llen(keys.inbox(measured))).toBe(0);
    expect(await c.counter(gateway, 'herald_gateway_acks_ignored_total{reason="unknown"}')).toBeGreaterThan(0);
    expect(await c.counter(gateway, 'herald_gateway_acks_ignored_total{reason="repeated"}')).toBeGreaterThan(0);
    if (cutOff) {
      // The flooding sessions were cut off with 4008, and the user's reconnects refused for a
      // while (503) before they cost a session.
      expect(Object.keys(stats.closes)).toEqual(['4008']);
      expect(Object.keys(stats.refused)).toEqual(['503']);
      expect(await c.counter(gateway, 'herald_gateway_connects_refused_total{reason="cooldown"}')).toBeGreaterThanOrEqual(stats.refused['503']);
    } else {
      // The whole flood was read (and ignored): about 20 sockets x 80 frames x 10 s.
      expect(stats.closes).toEqual({});
      expect(stats.frames).toBeGreaterThan(FLOOD_SOCKETS * FRAMES_PER_SECOND * (FLOOD_MS / 1000) * 0.6);
    }
    // The measured user's connection never dropped.
    expect(receiver.closeCode).toBeUndefined();

    // And the gateway still serves a new connection.
    const late = await c.connect(`late-${Date.now()}`);
    const userId = (late.frames[0] as { userId: string }).userId;
    const id = await c.send([userId], 'after the flood');
    expect((await late.waitForMessages(1))[0].id).toBe(id);
    await Promise.all([late.close(), receiver.close()]);
  }, 90_000);
});
