/**
 * One message to every member of a category, all of them connected, against one Herald gateway
 * (fan-out by ingest) and the raw `ws` baseline (one PUBLISH to every socket); docs/BENCHMARKS.md.
 * The time starts just before the POST (or the PUBLISH); the payload carries it.
 */
import { replaceUserCategories } from '@herald/redis';
import { cpuPct, cpuUsPer, othersSeconds } from '../procs';
import { measurePush, PUSH_FLAGS, runTargets, sharedCpuNote, startTarget, type Target } from '../push';
import { summarize } from '../report';
import { userIdsFor, type AppProcess, type Rig } from '../rig';
import { columns, type Row, type Scenario, type ScenarioContext } from '../scenario';
import { BASELINE_EVERYONE, baselineFrame } from '../writes';
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
    'one message to every member of a category, all connected to one gateway (fan-out by ingest, exposures on) vs a raw ws server',
    'sending one PUBLISHed frame to every socket: time to the last member, CPU per member',
  ].join(' '),
  flags: {
    members: { kind: 'int', default: '19900', min: 1, max: 250_000, description: 'members of the category, all connected' },
    broadcasts: { kind: 'int', default: '3', min: 1, max: 20, description: 'messages sent to the category per round, one after the other' },
    ...PUSH_FLAGS,
  },
  columns: columns(
    'target', ['broadcast', '#'], 'members', 'received', 'lost', ['firstMs', 'first ms', 1], ['p50Ms', 'p50 ms', 1],
    ['p99Ms', 'p99 ms', 1], ['lastMs', 'last ms', 1], ['acceptedMs', 'POST ms', 1], ['cpuUsPerMember', 'CPU µs/member', 1],
    ['ingestCpuMs', 'ingest CPU ms'], ['lastX', 'last ×base', 2], ['p50X', 'p50 ×base', 2], ['cpuX', 'CPU ×base', 2],
    ['rssKiBPerConn', 'KiB/conn', 1], ['machineCpuPct', 'machine CPU %'], ['otherCpuPct', 'others CPU %'], 'exposures',
    'notes',
  ),
  run: (ctx) =>
    runTargets(ctx, runTarget, { lastX: 'lastMs', p50X: 'p50Ms', cpuX: 'cpuUsPerMember' }, (herald, baseline) => herald.broadcast === baseline.broadcast),
};

async function runTarget(ctx: ScenarioContext, rig: Rig, target: Target, tag: string): Promise<Row[]> {
  const { flags, progress } = ctx;
  const members = flags.int('members');
  const userIds = userIdsFor(`cb-${tag}-`, members);
  const category = `bench-${tag}`;
  let ingest: AppProcess | undefined;
  if (target === 'herald') {
    progress(`making ${members} users members of ${category}`);
    const starting = rig.ingest();
    await rig.inChunks(userIds, JOIN_BATCH, (userId) => replaceUserCategories(rig.commands, userId, [category]));
    ingest = await starting;
  }
  progress(`connecting ${members} clients`);
  const push = await startTarget(rig, target, `bench-broadcast-${tag}`, userIds, flags.int('client-procs'), true);
  const notes = sharedCpuNote(
    target,
    `gateway, ingest (fan-out), Redis, Pub/Sub emulator, ${push.fleet.pids.length} client procs`,
    `baseline server, Redis, ${push.fleet.pids.length} client procs (emulator idle)`,
  );
  const rows: Row[] = [];
  for (let b = 0; b < flags.int('broadcasts'); b++) {
    const payload = { t: 0, s: b };
    let acceptedMs: number | null = null;
    const send = async () => {
      payload.t = nowMs();
      // A short TTL: the bench's bodies and inbox entries need not outlive it for long.
      if (ingest) await rig.postMessage({ category, payload, ttlSeconds: 600 });
      else await rig.commands.publish(BASELINE_EVERYONE, baselineFrame(payload, category));
      if (ingest) acceptedMs = nowMs() - payload.t;
      return members;
    };
    const groups = { ingest: ingest ? [ingest.pid] : [], load: push.fleet.pids };
    const { cpu, received: report, exposures, exposuresSpilled } = await measurePush(rig, push, groups, send, { ...WAIT, report: progress });
    report.histogram!.destroy();
    const latencies = (report.perSeq!.get(b) ?? []).sort((x, y) => x - y);
    const at = (q: number) => (latencies.length === 0 ? null : latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)]);
    const serverCpu = cpu.groups.server;
    const ms = (seconds: number | undefined) => (seconds === undefined ? null : seconds * 1000);
    const row: Row = {
      target, broadcast: b + 1, members, received: report.messages, lost: Math.max(0, members - report.messages),
      outOfOrder: report.outOfOrder, closed: report.closed, firstMs: latencies[0] ?? null, p50Ms: at(0.5), p99Ms: at(0.99),
      lastMs: latencies.at(-1) ?? null, acceptedMs, serverCpuMs: ms(serverCpu),
      cpuUsPerMember: cpuUsPer(serverCpu, report.messages),
      ingestCpuMs: ms(cpu.groups.ingest), redisCpuMs: ms(cpu.groups.redis), loadCpuMs: ms(cpu.groups.load),
      machineCpuPct: cpuPct(cpu.machine, cpu), otherCpuPct: cpuPct(othersSeconds(cpu), cpu),
      rssMiB: push.rssConnected === undefined ? null : push.rssConnected / 2 ** 20, rssKiBPerConn: push.rssKiBPerConn,
      exposures, exposuresSpilled, notes,
    };
    progress(summarize(categoryBroadcast.columns.slice(1, 11), row));
    rows.push(row);
  }
  await push.stop();
  return rows;
}
