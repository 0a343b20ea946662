/**
 * Live push to single users: `online` connected clients, an open-loop producer at `rate` messages
 * a second (each to one user, round-robin) for `seconds`, and what arrives: loss, order, latency
 * (HdrHistogram of arrival − scheduled send time), the server's CPU time per message and memory
 * per connection. Run against one Herald gateway (exposure publishing on, clients acking every
 * message) and against the raw `ws` baseline with the same clients and the same frames, so each
 * Herald figure also reads as a multiple of what Node + ws does. The producer writes to Redis as
 * ingest does (workers/sender.ts) rather than through ingest's HTTP API: the gateway is measured.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Fleet } from '../fleet';
import { cpuPct, cpuWindow, othersSeconds, procMemory } from '../procs';
import { addRatios, CLIENT_PROCS_FLAG, connectClients, exposuresSince, settledExposures, sharedCpuNote, startServer, TARGET_FLAG, targetsOf, type Target } from '../push';
import { latencyOf, summarize } from '../report';
import { FAST_ACCEPT, startRig, type Rig, type Worker } from '../rig';
import { columns, type Row, type Scenario, type ScenarioContext } from '../scenario';
import { sleep } from '../watch';
import type { OpenLoopReply } from '../workers/protocol';
import type { SenderRequest } from '../workers/sender';

/** Herald's message bodies outlive the run by little. */
const MESSAGE_TTL_SECONDS = 600;
/** After the last message arrived: acks and the last exposure batch, inside the CPU window. */
const SETTLE_MS = 250;
/** Arrivals stalled this long: the missing messages count as lost. */
const STALL_MS = 5000;

export const livePush: Scenario = {
  name: 'live-push',
  description:
    'open-loop live push to single users (one gateway, exposures on, clients ack) vs a raw ws + Redis baseline: ' +
    'loss, latency p50/p99/max, server CPU per message, RSS per connection',
  flags: {
    online: { kind: 'int', default: '5000', min: 1, max: 250_000, description: 'connected clients, one user each' },
    rate: { kind: 'int', default: '18000', min: 1, max: 1_000_000, description: 'messages per second (each to one user)' },
    seconds: { kind: 'int', default: '10', min: 1, max: 600, description: 'seconds of sending that are measured' },
    warmup: { kind: 'int', default: '1', min: 0, max: 60, description: 'seconds of sending at --rate before the measured ones (JIT)' },
    target: TARGET_FLAG,
    'client-procs': CLIENT_PROCS_FLAG,
  },
  columns: columns(
    'target', 'sent', 'received', 'lost', ['msgsPerSec', 'msg/s'], ['p50Ms', 'p50 ms', 1], ['p99Ms', 'p99 ms', 1],
    ['maxMs', 'max ms', 1], ['cpuUsPerMsg', 'CPU µs/msg', 1], ['serverCpuPct', 'server CPU %'], ['rssMiB', 'RSS MiB', 1],
    ['rssKiBPerConn', 'KiB/conn', 1], ['msgsPerSecX', 'msg/s ×base', 2], ['p99X', 'p99 ×base', 2], ['cpuX', 'CPU ×base', 2],
    ['rssPerConnX', 'KiB/conn ×base', 2], ['redisCpuPct', 'Redis CPU %'], ['loadCpuPct', 'load gen CPU %'],
    ['machineCpuPct', 'machine CPU %'], ['otherCpuPct', 'others CPU %'], ['producerLagMs', 'producer lag ms', 1],
    'exposures', 'notes',
  ),
  async run(ctx) {
    const runTag = `r${ctx.round}${randomBytes(2).toString('hex')}`;
    const rig = await startRig(ctx.signal, ctx.progress);
    try {
      ctx.parameter('gatewayEnv', JSON.stringify(FAST_ACCEPT));
      const rows: Row[] = [];
      for (const target of targetsOf(ctx.flags.words('target'))) {
        const say = (line: string) => ctx.progress(`${target}: ${line}`);
        const row = await runTarget({ ...ctx, progress: say }, rig, target, `${runTag}-${target}`);
        say(summarize(livePush.columns, row));
        rows.push(row);
      }
      if (rig.emulatorPids().length > 0) ctx.parameter('pubsubEmulator', (await rig.pubsub()).emulator.kind);
      addRatios(rows, { msgsPerSecX: 'msgsPerSec', p50X: 'p50Ms', p99X: 'p99Ms', cpuX: 'cpuUsPerMsg', rssPerConnX: 'rssKiBPerConn' }, () => true);
      return rows;
    } finally {
      await rig.stop();
    }
  },
};

async function runTarget(ctx: ScenarioContext, rig: Rig, target: Target, tag: string): Promise<Row> {
  const { flags, signal, progress } = ctx;
  const [online, rate, seconds, warmup] = ['online', 'rate', 'seconds', 'warmup'].map((name) => flags.int(name));
  const userIds = Array.from({ length: online }, (_, i) => `lp-${tag}-${i}`);
  const server = await startServer(rig, target, `bench-live-${tag}`);
  let fleet: Fleet | undefined;
  let producer: Worker | undefined;
  try {
    const rssIdle = procMemory(server.pid)?.rssBytes;
    progress(`connecting ${online} clients`);
    const connectStarted = performance.now();
    fleet = await connectClients(rig, server, userIds, flags.int('client-procs'));
    const connectSeconds = (performance.now() - connectStarted) / 1000;
    const rssConnected = procMemory(server.pid)?.rssBytes;
    const connected = await fleet.stats();
    progress(`${connected.welcomed} clients connected in ${connectSeconds.toFixed(1)} s (${connected.refused + connected.retried} retries)`);

    producer = rig.fork('sender', `${target} producer`);
    await producer.request({ type: 'setup', kind: target, redisUrl: rig.redis.url, userIds, ttlSeconds: MESSAGE_TTL_SECONDS } satisfies SenderRequest);
    const runFor = (s: number) => producer!.request<OpenLoopReply>({ type: 'run', rate, seconds: s } satisfies SenderRequest, (s + 120) * 1000);
    const wait = { stallMs: STALL_MS, signal, report: progress };
    if (warmup > 0) {
      progress(`warm-up: ${warmup} s at ${rate}/s`);
      await fleet.untilReceived((await runFor(warmup)).done, wait);
      await sleep(SETTLE_MS, signal);
    }
    const exposuresBefore = await settledExposures(server, 0, signal);
    await fleet.reset();

    progress(`${rate}/s for ${seconds} s to ${online} users`);
    const window = cpuWindow(rig.cpuGroups({
      server: [server.pid],
      load: [...fleet.pids, producer.pid],
    }));
    const sent = await runFor(seconds);
    if (sent.failed > 0) progress(`producer: ${sent.failed} writes failed, the first: ${sent.firstError}`);
    await fleet.untilReceived(sent.done, wait);
    await sleep(SETTLE_MS, signal);
    const cpu = window.stop();
    const report = await fleet.stats(1, true);
    const latency = latencyOf(report.histogram!);
    const rssEnd = procMemory(server.pid)?.rssBytes;
    const serverCpu = cpu.groups.server;
    const activeSeconds = report.lastMessageAt === null ? null : (report.lastMessageAt - sent.startedAtMs) / 1000;
    return {
      target, online, rate, seconds, sent: sent.done, failed: sent.failed, received: report.messages,
      lost: Math.max(0, sent.done - report.messages), outOfOrder: report.outOfOrder, closed: report.closed,
      unexpected: report.unexpected, msgsPerSec: activeSeconds ? report.messages / activeSeconds : 0, p50Ms: latency.p50Ms,
      p99Ms: latency.p99Ms, maxMs: latency.maxMs,
      cpuUsPerMsg: serverCpu === undefined || report.messages === 0 ? null : (serverCpu * 1e6) / report.messages,
      serverCpuPct: cpuPct(serverCpu, cpu), redisCpuPct: cpuPct(cpu.groups.redis, cpu),
      emulatorCpuPct: cpuPct(cpu.groups.emulator, cpu), loadCpuPct: cpuPct(cpu.groups.load, cpu),
      machineCpuPct: cpuPct(cpu.machine, cpu), otherCpuPct: cpuPct(othersSeconds(cpu), cpu), cpuWindowSeconds: cpu.wallSeconds,
      rssMiB: rssEnd === undefined ? null : rssEnd / 2 ** 20,
      rssKiBPerConn: rssIdle === undefined || rssConnected === undefined ? null : (rssConnected - rssIdle) / 1024 / online,
      connectSeconds, connectRetries: connected.refused + connected.retried, producerLagMs: sent.maxLagMs,
      ...(await exposuresSince(server, exposuresBefore, report.messages, signal)),
      notes: sharedCpuNote(
        target,
        `gateway, Redis, Pub/Sub emulator, producer, ${fleet.pids.length} client procs`,
        `baseline server, Redis, producer, ${fleet.pids.length} client procs (emulator idle)`,
      ),
    };
  } finally {
    await fleet?.close();
    await producer?.stop();
    await server.stop();
  }
}
