/**
 * Live push to single users, open loop, against one Herald gateway and against the raw `ws`
 * and Socket.IO baselines with the same clients and frames (docs/BENCHMARKS.md). The producer writes to Redis as
 * ingest does (workers/sender.ts) rather than through ingest's HTTP API: the gateway is measured.
 */
import { cpuPct, cpuUsPer, othersSeconds, procMemory } from '../procs';
import { measurePush, PUSH_FLAGS, runTargets, senderKind, sharedCpuNote, startTarget, withProducerLag, type Target } from '../push';
import { latencyOf, summarize } from '../report';
import { userIdsFor, type Rig } from '../rig';
import { columns, type Row, type Scenario, type ScenarioContext } from '../scenario';
import type { OpenLoopReply } from '../workers/protocol';

/** Herald's message bodies outlive the run by little. */
const MESSAGE_TTL_SECONDS = 600;
/** After the last message arrived: acks and the last exposure batch, inside the CPU window. */
const SETTLE_MS = 250;
/** Arrivals stalled this long: the missing messages count as lost. */
const STALL_MS = 5000;

export const livePush: Scenario = {
  name: 'live-push',
  description:
    'open-loop live push to single users (one gateway, exposures on, clients ack) vs a raw ws + Redis baseline (and --target socketio): ' +
    'loss, latency p50/p99/max, server CPU per message, RSS per connection',
  flags: {
    online: { kind: 'int', default: '5000', min: 1, max: 250_000, description: 'connected clients, one user each' },
    rate: { kind: 'int', default: '18000', min: 1, max: 1_000_000, description: 'messages per second (each to one user)' },
    seconds: { kind: 'int', default: '10', min: 1, max: 600, description: 'seconds of sending that are measured' },
    warmup: { kind: 'int', default: '1', min: 0, max: 60, description: 'seconds of sending at --rate before the measured ones (JIT)' },
    ...PUSH_FLAGS,
  },
  columns: columns(
    'target', 'sent', 'received', 'lost', ['msgsPerSec', 'msg/s'], ['p50Ms', 'p50 ms', 1], ['p99Ms', 'p99 ms', 1],
    ['maxMs', 'max ms', 1], ['cpuUsPerMsg', 'CPU µs/msg', 1], ['serverCpuPct', 'server CPU %'], ['rssMiB', 'RSS MiB', 1],
    ['rssKiBPerConn', 'KiB/conn', 1], ['msgsPerSecX', 'msg/s ×base', 2], ['p99X', 'p99 ×base', 2], ['cpuX', 'CPU ×base', 2],
    ['rssPerConnX', 'KiB/conn ×base', 2], ['p99XSio', 'p99 ×sio', 2], ['cpuXSio', 'CPU ×sio', 2], ['redisCpuPct', 'Redis CPU %'], ['loadCpuPct', 'load gen CPU %'],
    ['machineCpuPct', 'machine CPU %'], ['otherCpuPct', 'others CPU %'], ['producerLagMs', 'producer lag ms', 1],
    'exposures', ['exposuresSpilled', 'spilled'], ['exposuresUnlogged', 'unlogged'], 'notes',
  ),
  run: (ctx) =>
    runTargets(ctx, runTarget, { msgsPerSecX: 'msgsPerSec', p50X: 'p50Ms', p99X: 'p99Ms', cpuX: 'cpuUsPerMsg', rssPerConnX: 'rssKiBPerConn' }, () => true),
};

async function runTarget(ctx: ScenarioContext, rig: Rig, target: Target, tag: string): Promise<Row[]> {
  const { flags, progress } = ctx;
  const [online, rate, seconds, warmup] = ['online', 'rate', 'seconds', 'warmup'].map((name) => flags.int(name));
  const userIds = userIdsFor(`lp-${tag}-`, online);
  progress(`connecting ${online} clients`);
  const push = await startTarget(rig, target, `bench-live-${tag}`, userIds, flags.int('client-procs'));
  const { server, fleet } = push;
  progress(`${online} clients connected in ${push.connectSeconds.toFixed(1)} s (${push.connectRetries} retries)`);
  const producer = await rig.startSender(`${target} producer`, { type: 'setup', kind: senderKind(target), redisUrl: rig.redis.url, userIds, ttlSeconds: MESSAGE_TTL_SECONDS });
  let sent: OpenLoopReply | undefined;
  const send = async (s: number) => (sent = await producer.run(rate, s)).done;
  const wait = { stallMs: STALL_MS, settleMs: SETTLE_MS, report: progress };
  if (warmup > 0) {
    progress(`warm-up: ${warmup} s at ${rate}/s`);
    (await measurePush(rig, push, {}, () => send(warmup), wait)).received.histogram?.destroy();
  }
  progress(`${rate}/s for ${seconds} s to ${online} users`);
  const { cpu, received: report, exposures, exposuresSpilled, exposuresUnlogged } = await measurePush(rig, push, { load: [...fleet.pids, producer.pid] }, () => send(seconds), wait);
  const done = sent!;
  const latency = latencyOf(report.histogram!);
  const rssEnd = procMemory(server.pid)?.rssBytes;
  const serverCpu = cpu.groups.server;
  const activeSeconds = report.lastMessageAt === null ? null : (report.lastMessageAt - done.startedAtMs) / 1000;
  const row: Row = {
    target, online, rate, seconds, sent: done.done, failed: done.failed, received: report.messages,
    lost: Math.max(0, done.done - report.messages), outOfOrder: report.outOfOrder, closed: report.closed,
    unexpected: report.unexpected, msgsPerSec: activeSeconds ? report.messages / activeSeconds : 0, p50Ms: latency.p50Ms,
    p99Ms: latency.p99Ms, maxMs: latency.maxMs,
    cpuUsPerMsg: cpuUsPer(serverCpu, report.messages),
    serverCpuPct: cpuPct(serverCpu, cpu), redisCpuPct: cpuPct(cpu.groups.redis, cpu),
    emulatorCpuPct: cpuPct(cpu.groups.emulator, cpu), loadCpuPct: cpuPct(cpu.groups.load, cpu),
    machineCpuPct: cpuPct(cpu.machine, cpu), otherCpuPct: cpuPct(othersSeconds(cpu), cpu), cpuWindowSeconds: cpu.wallSeconds,
    rssMiB: rssEnd === undefined ? null : rssEnd / 2 ** 20, rssKiBPerConn: push.rssKiBPerConn,
    connectSeconds: push.connectSeconds, connectRetries: push.connectRetries, producerLagMs: done.maxLagMs, exposures, exposuresSpilled, exposuresUnlogged,
    notes: withProducerLag(
      sharedCpuNote(
        target,
        `gateway, Redis, Pub/Sub emulator, producer, ${fleet.pids.length} client procs`,
        `baseline server, Redis, producer, ${fleet.pids.length} client procs (emulator idle)`,
      ),
      done.maxLagMs,
    ),
  };
  progress(summarize(livePush.columns, row));
  await push.stop();
  return [row];
}
