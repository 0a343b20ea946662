/**
 * Live push to single users: `online` connected clients, an open-loop producer at `rate` messages
 * a second (each to one user, round-robin) for `seconds`, and what arrives: loss, order, latency
 * (HdrHistogram of arrival − scheduled send time), the server's CPU time per message and memory
 * per connection. Run against one Herald gateway (exposure publishing on, clients acking every
 * message) and against the raw `ws` baseline (src/baseline/server.ts) with the same clients and
 * the same frames, so each Herald figure also reads as a multiple of what Node + ws does.
 *
 * Everything runs on this machine: producer, clients, server, Redis and the emulator share its
 * cores, and the row says so. The producer writes to Redis as ingest does (see
 * producer-process.ts) rather than through ingest's HTTP API: the gateway is what is measured.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Row, Scenario, ScenarioContext } from '../../scenario';
import { MAX_CLIENTS, type ClientFleet } from './client-fleet';
import { TARGETS, type Target } from './client-protocol';
import { cpuPct, otherSeconds, startCpuWindow } from './cpu-window';
import { exposuresSettled, exposuresTaken } from './exposures';
import { percentiles } from './latency';
import type { RunReply, SetupRequest } from './producer-protocol';
import { procMemory } from '../../load/proc-memory';
import { GATEWAY_BENCH_ENV, startPushRig, type PushRig } from './push-rig';
import { connectClients, startPushServer } from './push-server';
import { forkWorker, type Worker } from './worker-ipc';

const PRODUCER_MAIN = join(__dirname, 'producer-process.ts');
/** Herald's message bodies outlive the run by little. */
const MESSAGE_TTL_SECONDS = 600;
/** After the last message arrived: acks and the last exposure batch, inside the CPU window. */
const SETTLE_MS = 250;
/** Arrivals stalled this long: the missing messages count as lost. */
const STALL_MS = 5000;
const EXPOSURES_TIMEOUT_MS = 30_000;

export const TARGET_CHOICES = [...TARGETS, 'both'] as const;

/** `--target` words as the targets to run, Herald first. */
export function targetsOf(words: readonly string[]): Target[] {
  return TARGETS.filter((t) => words.includes(t) || words.includes('both'));
}

export const livePush: Scenario = {
  name: 'live-push',
  description:
    'open-loop live push to single users (one gateway, exposures on, clients ack) vs a raw ws + Redis baseline: ' +
    'loss, latency p50/p99/max, server CPU per message, RSS per connection',
  flags: {
    online: { kind: 'int', default: '5000', min: 1, max: MAX_CLIENTS, description: 'connected clients, one user each' },
    rate: { kind: 'int', default: '18000', min: 1, max: 1_000_000, description: 'messages per second (each to one user)' },
    seconds: { kind: 'int', default: '10', min: 1, max: 600, description: 'seconds of sending that are measured' },
    warmup: { kind: 'int', default: '1', min: 0, max: 60, description: 'seconds of sending at --rate before the measured ones (JIT)' },
    target: { kind: 'words', default: 'both', choices: TARGET_CHOICES, description: 'herald, baseline or both' },
    'client-procs': {
      kind: 'int',
      default: '2',
      min: 1,
      max: 32,
      description: 'client processes (raised so that none holds more than 15,000 sockets)',
    },
  },
  columns: [
    { key: 'target' },
    { key: 'sent' },
    { key: 'received' },
    { key: 'lost' },
    { key: 'msgsPerSec', label: 'msg/s' },
    { key: 'p50Ms', label: 'p50 ms', digits: 1 },
    { key: 'p99Ms', label: 'p99 ms', digits: 1 },
    { key: 'maxMs', label: 'max ms', digits: 1 },
    { key: 'cpuUsPerMsg', label: 'CPU µs/msg', digits: 1 },
    { key: 'serverCpuPct', label: 'server CPU %' },
    { key: 'rssMiB', label: 'RSS MiB', digits: 1 },
    { key: 'rssKiBPerConn', label: 'KiB/conn', digits: 1 },
    { key: 'msgsPerSecX', label: 'msg/s ×base', digits: 2 },
    { key: 'p99X', label: 'p99 ×base', digits: 2 },
    { key: 'cpuX', label: 'CPU ×base', digits: 2 },
    { key: 'rssPerConnX', label: 'KiB/conn ×base', digits: 2 },
    { key: 'redisCpuPct', label: 'Redis CPU %' },
    { key: 'loadCpuPct', label: 'load gen CPU %' },
    { key: 'machineCpuPct', label: 'machine CPU %' },
    { key: 'otherCpuPct', label: 'others CPU %' },
    { key: 'producerLagMs', label: 'producer lag ms', digits: 1 },
    { key: 'exposures' },
    { key: 'notes' },
  ],
  run,
};

async function run(ctx: ScenarioContext): Promise<Row[]> {
  const targets = targetsOf(ctx.flags.words('target'));
  const runTag = `r${ctx.round}${randomBytes(2).toString('hex')}`;
  const rig = await startPushRig(ctx.signal, ctx.progress);
  try {
    ctx.parameter('gatewayEnv', JSON.stringify(GATEWAY_BENCH_ENV));
    const rows: Row[] = [];
    for (const target of targets) {
      const say = (line: string) => ctx.progress(`${target}: ${line}`);
      const row = await runTarget({ ...ctx, progress: say }, rig, target, `${runTag}-${target}`);
      say(summarize(row));
      rows.push(row);
    }
    if (rig.pubsubKind()) ctx.parameter('pubsubEmulator', rig.pubsubKind()!);
    const herald = rows.find((r) => r.target === 'herald');
    const baseline = rows.find((r) => r.target === 'baseline');
    for (const row of rows) {
      const vs = row === herald && baseline ? (key: string) => ratio(row[key], baseline[key]) : () => null;
      Object.assign(row, {
        msgsPerSecX: vs('msgsPerSec'),
        p50X: vs('p50Ms'),
        p99X: vs('p99Ms'),
        cpuX: vs('cpuUsPerMsg'),
        rssPerConnX: vs('rssKiBPerConn'),
      });
    }
    return rows;
  } finally {
    await rig.stop();
  }
}

async function runTarget(ctx: ScenarioContext, rig: PushRig, target: Target, tag: string): Promise<Row> {
  const { flags, signal, progress } = ctx;
  const online = flags.int('online');
  const rate = flags.int('rate');
  const seconds = flags.int('seconds');
  const warmup = flags.int('warmup');
  const userIds = Array.from({ length: online }, (_, i) => `lp-${tag}-${i}`);
  const server = await startPushServer(rig, target, `bench-live-${tag}`);
  let fleet: ClientFleet | undefined;
  let producer: Worker | undefined;
  try {
    const rssIdle = procMemory(server.pid)?.rssBytes;
    progress(`connecting ${online} clients`);
    const connectStarted = performance.now();
    fleet = await connectClients(rig, server, { userIds, processes: flags.int('client-procs'), keepPerSeq: false });
    const connectSeconds = (performance.now() - connectStarted) / 1000;
    const rssConnected = procMemory(server.pid)?.rssBytes;
    progress(`${fleet.size} clients connected in ${connectSeconds.toFixed(1)} s (${fleet.retries} retries)`);

    producer = forkWorker(PRODUCER_MAIN, `${target} producer`);
    const setup: SetupRequest = { type: 'setup', target, redisUrl: rig.redisUrl, userIds, ttlSeconds: MESSAGE_TTL_SECONDS };
    await producer.request(setup);
    const runFor = (s: number) => producer!.request<RunReply>({ type: 'run', rate, seconds: s }, (s + 120) * 1000);
    const wait = { stallMs: STALL_MS, signal, progress };
    if (warmup > 0) {
      progress(`warm-up: ${warmup} s at ${rate}/s`);
      const warm = await runFor(warmup);
      await fleet.untilReceived(warm.sent, wait);
      await sleep(SETTLE_MS);
    }
    const exposuresBefore = server.metricsUrl ? await exposuresSettled(server.metricsUrl, 0, EXPOSURES_TIMEOUT_MS, signal) : undefined;
    await fleet.reset();

    progress(`${rate}/s for ${seconds} s to ${online} users`);
    const window = startCpuWindow({
      server: [server.pid],
      redis: [rig.redisPid],
      emulator: rig.emulatorPids(),
      load: [...fleet.pids, producer.pid],
      bench: [process.pid],
    });
    const sent = await runFor(seconds);
    if (sent.failed > 0) progress(`producer: ${sent.failed} writes failed, the first: ${sent.firstError}`);
    await fleet.untilReceived(sent.sent, wait);
    await sleep(SETTLE_MS);
    const cpu = window.stop();
    const report = await fleet.report();
    const latency = percentiles(report.histogram);
    report.histogram.destroy();

    let exposures: number | null = null;
    let exposuresSpilled: number | null = null;
    if (server.metricsUrl && exposuresBefore) {
      const after = await exposuresSettled(server.metricsUrl, exposuresTaken(exposuresBefore) + report.received, EXPOSURES_TIMEOUT_MS, signal);
      exposures = exposuresTaken(after) - exposuresTaken(exposuresBefore);
      exposuresSpilled = after.spilled - exposuresBefore.spilled;
    }
    const rssEnd = procMemory(server.pid)?.rssBytes;
    const serverCpu = cpu.groups.server;
    const activeSeconds = report.lastAtMs === null ? null : (report.lastAtMs - sent.startedAtMs) / 1000;
    return {
      target,
      online,
      rate,
      seconds,
      sent: sent.sent,
      failed: sent.failed,
      received: report.received,
      lost: Math.max(0, sent.sent - report.received),
      outOfOrder: report.outOfOrder,
      closed: report.closed,
      unexpected: report.unexpected,
      msgsPerSec: activeSeconds ? report.received / activeSeconds : 0,
      p50Ms: latency.p50Ms,
      p99Ms: latency.p99Ms,
      maxMs: latency.maxMs,
      cpuUsPerMsg: serverCpu === undefined || report.received === 0 ? null : (serverCpu * 1e6) / report.received,
      serverCpuPct: cpuPct(serverCpu, cpu),
      redisCpuPct: cpuPct(cpu.groups.redis, cpu),
      emulatorCpuPct: cpuPct(cpu.groups.emulator, cpu),
      loadCpuPct: cpuPct(cpu.groups.load, cpu),
      machineCpuPct: cpuPct(cpu.machine, cpu),
      otherCpuPct: cpuPct(otherSeconds(cpu), cpu),
      cpuWindowSeconds: cpu.wallSeconds,
      rssMiB: rssEnd === undefined ? null : rssEnd / 2 ** 20,
      rssKiBPerConn: rssIdle === undefined || rssConnected === undefined ? null : (rssConnected - rssIdle) / 1024 / online,
      connectSeconds,
      connectRetries: fleet.retries,
      producerLagMs: sent.maxLagMs,
      exposures,
      exposuresSpilled,
      notes: sharedCpuNote(target, fleet.pids.length),
    };
  } finally {
    await fleet?.close();
    await producer?.request({ type: 'close' }, 10_000).catch(() => undefined);
    await producer?.stop();
    await server.stop();
  }
}

/** Who shares the CPU with the server during the measurement. */
export function sharedCpuNote(target: Target, clientProcesses: number): string {
  const others =
    target === 'herald'
      ? `gateway, Redis, Pub/Sub emulator, producer, ${clientProcesses} client procs`
      : `baseline server, Redis, producer, ${clientProcesses} client procs (emulator idle)`;
  return `${cpus().length} cores shared: ${others}`;
}

export function ratio(a: Row[string] | undefined, b: Row[string] | undefined): number | null {
  return typeof a === 'number' && typeof b === 'number' && b !== 0 ? a / b : null;
}

function summarize(row: Row): string {
  const n = (key: string, digits = 0) => (typeof row[key] === 'number' ? (row[key] as number).toFixed(digits) : '-');
  return (
    `${n('received')}/${n('sent')} received (${n('lost')} lost, ${n('outOfOrder')} out of order), ${n('msgsPerSec')} msg/s, ` +
    `p50 ${n('p50Ms', 1)} ms, p99 ${n('p99Ms', 1)} ms, max ${n('maxMs', 1)} ms, ${n('cpuUsPerMsg', 1)} µs CPU/msg ` +
    `(server ${n('serverCpuPct')} %, machine ${n('machineCpuPct')} %, others ${n('otherCpuPct')} %), ${n('rssKiBPerConn', 1)} KiB/conn`
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
