/**
 * One message to every member of a category, all of them connected, against one Herald gateway
 * (stored once, routed by the gateway), the raw `ws` baseline (one PUBLISH to every socket) and Socket.IO (one
 * emitter broadcast); docs/BENCHMARKS.md. The time starts just before the POST (or the PUBLISH);
 * the payload carries it. One after the other (a row each), or with `--interval-ms` a sustained
 * load: the broadcasts on a fixed schedule in one measurement, one row with the p50 and the worst
 * of the per-broadcast times to the last member.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { replaceUserCategories } from '@herald/redis';
import { Emitter } from '@socket.io/redis-emitter';
import { cpuPct, cpuUsPer, othersSeconds } from '../procs';
import { acksReadBy, measurePush, PUSH_FLAGS, runTargets, sharedCpuNote, startTarget, type Target } from '../push';
import { summarize } from '../report';
import { userIdsFor, type AppProcess, type Rig } from '../rig';
import { columns, type Row, type Scenario, type ScenarioContext } from '../scenario';
import { median } from '../report';
import { BASELINE_EVERYONE, baselineFrame, messageFrame } from '../writes';
import { nowMs } from '../workers/protocol';

/**
 * After the last member got a broadcast, its acks (inside the CPU window, before the next one);
 * arrivals stalled this long: the missing members count as lost.
 */
const WAIT = { settleMs: 1000, stallMs: 10_000 };
/** Members set up at once; their commands go out auto-pipelined. */
const JOIN_BATCH = 1000;

export const categoryBroadcast: Scenario = {
  name: 'category-broadcast',
  description: [
    'one message to every member of a category, all connected to one gateway (stored once, routed by the gateway, exposures on) vs a raw ws server',
    'sending one PUBLISHed frame to every socket: time to the last member, CPU per member',
  ].join(' '),
  flags: {
    members: { kind: 'int', default: '19900', min: 1, max: 250_000, description: 'members of the category, all connected' },
    broadcasts: { kind: 'int', default: '3', min: 1, max: 100, description: 'messages sent to the category per round' },
    'interval-ms': { kind: 'int', default: '0', min: 0, max: 60_000, description: '0: one after the other; else sent this far apart, measured together' },
    gateways: {
      kind: 'int',
      default: '1',
      min: 1,
      max: 16,
      description: "server processes of every target (Herald's gateways, the baselines' servers), the members spread evenly over them (one process holds at most ~19,900 sockets)",
    },
    ...PUSH_FLAGS,
  },
  columns: columns(
    'target', ['broadcast', '#'], 'members', 'received', 'lost', ['firstMs', 'first ms', 1], ['p50Ms', 'p50 ms', 1],
    ['p99Ms', 'p99 ms', 1], ['lastMs', 'last ms', 1], ['lastMaxMs', 'worst last ms', 1], ['acceptedMs', 'POST ms', 1],
    ['cpuUsPerMember', 'CPU µs/member', 1], ['ingestCpuMs', 'ingest CPU ms'], ['redisCpuMs', 'Redis CPU ms'],
    ['emulatorCpuMs', 'emulator CPU ms'], ['loadCpuMs', 'load gen CPU ms'], ['lastX', 'last ×base', 2], ['p50X', 'p50 ×base', 2],
    ['cpuX', 'CPU ×base', 2], ['lastXSio', 'last ×sio', 2], ['cpuXSio', 'CPU ×sio', 2], ['lastXAck', 'last ×ws-ack', 2],
    ['cpuXAck', 'CPU ×ws-ack', 2], ['rssKiBPerConn', 'KiB/conn', 1],
    ['machineCpuPct', 'machine CPU %'], ['otherCpuPct', 'others CPU %'], 'exposures', ['exposuresSpilled', 'spilled'], ['exposuresUnlogged', 'unlogged'], 'notes',
  ),
  run: (ctx) =>
    runTargets(ctx, runTarget, { lastX: 'lastMs', p50X: 'p50Ms', cpuX: 'cpuUsPerMember' }, (herald, baseline) => herald.broadcast === baseline.broadcast),
};

async function runTarget(ctx: ScenarioContext, rig: Rig, target: Target, tag: string): Promise<Row[]> {
  const { flags, progress } = ctx;
  const members = flags.int('members');
  const userIds = userIdsFor(`cb-${tag}-`, members);
  const category = `bench-${tag}`;
  /** The gateways' exposure topic, and ingest's events' (as `npm run dev` runs them). */
  const topic = `bench-broadcast-${tag}`;
  let ingest: AppProcess | undefined;
  if (target === 'herald') {
    progress(`making ${members} users members of ${category}`);
    const starting = rig.ingest(topic);
    await rig.inChunks(userIds, JOIN_BATCH, (userId) => replaceUserCategories(rig.commands, userId, [category]));
    ingest = await starting;
  }
  progress(`connecting ${members} clients`);
  const servers = flags.int('gateways');
  const push = await startTarget(rig, target, topic, userIds, flags.int('client-procs'), true, {}, servers);
  const notes = sharedCpuNote(
    target,
    `${servers === 1 ? 'gateway' : `${servers} gateways (CPU summed)`}, ingest, Redis, Pub/Sub emulator, ${push.fleet.pids.length} client procs`,
    `${servers === 1 ? 'baseline server' : `${servers} baseline servers (CPU summed)`}, Redis, ${push.fleet.pids.length} client procs (emulator idle)`,
  );
  const emitter = new Emitter(rig.commands);
  /** Broadcast number b, timed from just before it goes out. */
  const broadcast = async (b: number): Promise<number | null> => {
    const payload = { t: nowMs(), s: b };
    // A short TTL: the bench's bodies and inbox entries need not outlive it for long.
    if (ingest) await rig.postMessage({ category, payload, ttlSeconds: 600 });
    else if (target === 'socketio') emitter.emit('message', messageFrame(payload, category));
    else await rig.commands.publish(BASELINE_EVERYONE, baselineFrame(payload, category));
    return ingest ? nowMs() - payload.t : null;
  };
  const [count, intervalMs] = [flags.int('broadcasts'), flags.int('interval-ms')];
  const rounds = intervalMs > 0 ? [Array.from({ length: count }, (_, b) => b)] : Array.from({ length: count }, (_, b) => [b]);
  const rows: Row[] = [];
  for (const numbers of rounds) {
    const accepted: number[] = [];
    const send = async () => {
      const start = nowMs();
      for (const b of numbers) {
        await sleep(Math.max(0, start + (b - numbers[0]) * intervalMs - nowMs()), undefined, { signal: rig.signal });
        const ms = await broadcast(b);
        if (ms !== null) accepted.push(ms);
      }
      return members * numbers.length;
    };
    const groups = { ingest: ingest ? [ingest.pid] : [], load: push.fleet.pids };
    const acksBefore = await push.server.acksRead?.();
    // Marks where the broadcasts begin in a profile or a GC trace of the server (README.md, "Profiling").
    progress(`broadcasting ${numbers.length === 1 ? `message ${numbers[0] + 1}` : `${numbers.length} messages ${intervalMs} ms apart`}`);
    const { cpu, received: report, exposures, exposuresSpilled, exposuresUnlogged } = await measurePush(rig, push, groups, send, { ...WAIT, report: progress });
    const acksAfter = acksBefore === undefined ? undefined : await acksReadBy(push.server, acksBefore + report.messages, rig.signal);
    report.histogram!.destroy();
    const latencies = numbers.flatMap((b) => report.perSeq!.get(b) ?? []).sort((x, y) => x - y);
    const lasts = numbers.map((b) => (report.perSeq!.get(b) ?? []).reduce((worst, ms) => Math.max(worst, ms), -Infinity));
    const at = (q: number) => (latencies.length === 0 ? null : latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)]);
    const serverCpu = cpu.groups.server;
    const ms = (seconds: number | undefined) => (seconds === undefined ? null : seconds * 1000);
    const expected = members * numbers.length;
    const row: Row = {
      target, broadcast: numbers.length === 1 ? numbers[0] + 1 : `${numbers.length} × ${intervalMs} ms`, members,
      received: report.messages, lost: Math.max(0, expected - report.messages),
      outOfOrder: report.outOfOrder, closed: report.closed, firstMs: latencies[0] ?? null, p50Ms: at(0.5), p99Ms: at(0.99),
      lastMs: lasts.every(Number.isFinite) ? median(lasts) : null, lastMaxMs: lasts.every(Number.isFinite) ? Math.max(...lasts) : null,
      acceptedMs: accepted.length > 0 ? median(accepted) : null, serverCpuMs: ms(serverCpu),
      cpuUsPerMember: cpuUsPer(serverCpu, report.messages),
      ingestCpuMs: ms(cpu.groups.ingest), redisCpuMs: ms(cpu.groups.redis), emulatorCpuMs: ms(cpu.groups.emulator), loadCpuMs: ms(cpu.groups.load),
      machineCpuPct: cpuPct(cpu.machine, cpu), otherCpuPct: cpuPct(othersSeconds(cpu), cpu),
      rssMiB: push.rssConnected === undefined ? null : push.rssConnected / 2 ** 20, rssKiBPerConn: push.rssKiBPerConn,
      exposures, exposuresSpilled, exposuresUnlogged,
      acksRead: acksBefore === undefined || acksAfter === undefined ? null : acksAfter - acksBefore, notes,
    };
    progress(summarize(categoryBroadcast.columns.slice(1, 12), row));
    rows.push(row);
  }
  await push.stop();
  return rows;
}
