/**
 * One message to every member of a category, all of them connected: how long until the last
 * member has it (and the first, the median, p99), and the server's CPU time per member.
 *
 * Herald: the members are set up in Redis, one gateway (exposures on) holds every connection, and
 * the message goes through ingest (`POST /v1/messages` with a category): ingest's BullMQ worker
 * writes every member's inbox and notifies their channels, the gateway reads the body once and
 * pushes it to each session, each client acks. Baseline: one PUBLISH of the ready frame on the
 * broadcast channel, which the raw `ws` server sends to every socket. The time starts just
 * before the POST (or the PUBLISH); the payload carries it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import type { MessageFrame } from '@herald/types';
import type { Row, Scenario, ScenarioContext } from '../../scenario';
import { baselineChannels } from '../../baseline/channels';
import type { AppProcess } from '../../herald/app-process';
import { MAX_CLIENTS, type ClientFleet } from '../live-push/client-fleet';
import type { PushPayload, Target } from '../live-push/client-protocol';
import { cpuPct, otherSeconds, startCpuWindow } from '../live-push/cpu-window';
import { exposuresSettled, exposuresTaken } from '../live-push/exposures';
import { ratio, TARGET_CHOICES, targetsOf } from '../live-push';
import { nowMs } from '../live-push/latency';
import { procMemory } from '../../load/proc-memory';
import { GATEWAY_BENCH_ENV, startPushRig, type PushRig } from '../live-push/push-rig';
import { connectClients, startPushServer, type PushServer } from '../live-push/push-server';
import { postCategoryMessage } from './category-sender';
import { joinCategory } from './members';

/** After the last member got a broadcast: its acks, inside the CPU window, before the next one. */
const SETTLE_MS = 1000;
/** Arrivals stalled this long: the missing members count as lost. */
const STALL_MS = 10_000;
const EXPOSURES_TIMEOUT_MS = 30_000;

export const categoryBroadcast: Scenario = {
  name: 'category-broadcast',
  description:
    'one message to every member of a category, all connected to one gateway (fan-out by ingest, exposures on) vs a ' +
    'raw ws server sending one PUBLISHed frame to every socket: time to the last member, CPU per member',
  flags: {
    members: { kind: 'int', default: '19900', min: 1, max: MAX_CLIENTS, description: 'members of the category, all connected' },
    broadcasts: { kind: 'int', default: '3', min: 1, max: 20, description: 'messages sent to the category per round, one after the other' },
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
    { key: 'broadcast', label: '#' },
    { key: 'members' },
    { key: 'received' },
    { key: 'lost' },
    { key: 'firstMs', label: 'first ms', digits: 1 },
    { key: 'p50Ms', label: 'p50 ms', digits: 1 },
    { key: 'p99Ms', label: 'p99 ms', digits: 1 },
    { key: 'lastMs', label: 'last ms', digits: 1 },
    { key: 'acceptedMs', label: 'POST ms', digits: 1 },
    { key: 'cpuUsPerMember', label: 'CPU µs/member', digits: 1 },
    { key: 'ingestCpuMs', label: 'ingest CPU ms' },
    { key: 'lastX', label: 'last ×base', digits: 2 },
    { key: 'p50X', label: 'p50 ×base', digits: 2 },
    { key: 'cpuX', label: 'CPU ×base', digits: 2 },
    { key: 'rssKiBPerConn', label: 'KiB/conn', digits: 1 },
    { key: 'machineCpuPct', label: 'machine CPU %' },
    { key: 'otherCpuPct', label: 'others CPU %' },
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
      rows.push(...(await runTarget({ ...ctx, progress: say }, rig, target, `${runTag}-${target}`)));
    }
    if (rig.pubsubKind()) ctx.parameter('pubsubEmulator', rig.pubsubKind()!);
    for (const row of rows) {
      const baseline = row.target === 'herald' ? rows.find((r) => r.target === 'baseline' && r.broadcast === row.broadcast) : undefined;
      const vs = (key: string) => (baseline ? ratio(row[key], baseline[key]) : null);
      Object.assign(row, { lastX: vs('lastMs'), p50X: vs('p50Ms'), cpuX: vs('cpuUsPerMember') });
    }
    return rows;
  } finally {
    await rig.stop();
  }
}

async function runTarget(ctx: ScenarioContext, rig: PushRig, target: Target, tag: string): Promise<Row[]> {
  const { flags, signal, progress } = ctx;
  const members = flags.int('members');
  const userIds = Array.from({ length: members }, (_, i) => `cb-${tag}-${i}`);
  const category = `bench-${tag}`;
  let ingest: AppProcess | undefined;
  let server: PushServer | undefined;
  let fleet: ClientFleet | undefined;
  try {
    if (target === 'herald') {
      progress(`making ${members} users members of ${category}`);
      const starting = Promise.all([rig.startIngest(), startPushServer(rig, target, `bench-broadcast-${tag}`)]);
      starting.catch(() => undefined); // awaited below; a failed setup must not leave it unobserved
      await joinCategory(rig.redis, userIds, category, signal);
      [ingest, server] = await starting;
    } else {
      server = await startPushServer(rig, target, '');
    }
    const rssIdle = procMemory(server.pid)?.rssBytes;
    progress(`connecting ${members} clients`);
    fleet = await connectClients(rig, server, { userIds, processes: flags.int('client-procs'), keepPerSeq: true });
    const rssConnected = procMemory(server.pid)?.rssBytes;
    progress(`${fleet.size} clients connected (${fleet.retries} retries)`);
    const token = ingest ? await rig.producerToken() : '';
    const notes = sharedCpuNote(target, fleet.pids.length);

    const rows: Row[] = [];
    for (let b = 0; b < flags.int('broadcasts'); b++) {
      const exposuresBefore = server.metricsUrl ? await exposuresSettled(server.metricsUrl, 0, EXPOSURES_TIMEOUT_MS, signal) : undefined;
      await fleet.reset();
      const window = startCpuWindow({
        server: [server.pid],
        ingest: ingest ? [ingest.pid] : [],
        redis: [rig.redisPid],
        emulator: rig.emulatorPids(),
        load: fleet.pids,
        bench: [process.pid],
      });
      const payload: PushPayload = { t: nowMs(), s: b };
      let acceptedMs: number | null = null;
      if (ingest) {
        await postCategoryMessage(ingest.url, token, category, payload);
        acceptedMs = nowMs() - payload.t;
      } else {
        const frame: MessageFrame = { type: 'message', id: randomUUID(), category, payload, createdAt: new Date().toISOString() };
        await rig.redis.publish(baselineChannels.everyone, JSON.stringify(frame));
      }
      await fleet.untilReceived(members, { stallMs: STALL_MS, signal, progress });
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      const cpu = window.stop();
      const report = await fleet.report();
      report.histogram.destroy();
      const latencies = (report.perSeq.get(b) ?? []).sort((x, y) => x - y);
      const at = (q: number) => (latencies.length === 0 ? null : latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)]);
      let exposures: number | null = null;
      let exposuresSpilled: number | null = null;
      if (server.metricsUrl && exposuresBefore) {
        const after = await exposuresSettled(server.metricsUrl, exposuresTaken(exposuresBefore) + report.received, EXPOSURES_TIMEOUT_MS, signal);
        exposures = exposuresTaken(after) - exposuresTaken(exposuresBefore);
        exposuresSpilled = after.spilled - exposuresBefore.spilled;
      }
      const serverCpu = cpu.groups.server;
      const row: Row = {
        target,
        broadcast: b + 1,
        members,
        received: report.received,
        lost: Math.max(0, members - report.received),
        outOfOrder: report.outOfOrder,
        closed: report.closed,
        firstMs: latencies[0] ?? null,
        p50Ms: at(0.5),
        p99Ms: at(0.99),
        lastMs: latencies.at(-1) ?? null,
        acceptedMs,
        serverCpuMs: serverCpu === undefined ? null : serverCpu * 1000,
        cpuUsPerMember: serverCpu === undefined || report.received === 0 ? null : (serverCpu * 1e6) / report.received,
        ingestCpuMs: ingest && cpu.groups.ingest !== undefined ? cpu.groups.ingest * 1000 : null,
        redisCpuMs: cpu.groups.redis === undefined ? null : cpu.groups.redis * 1000,
        loadCpuMs: cpu.groups.load === undefined ? null : cpu.groups.load * 1000,
        machineCpuPct: cpuPct(cpu.machine, cpu),
        otherCpuPct: cpuPct(otherSeconds(cpu), cpu),
        rssMiB: rssConnected === undefined ? null : rssConnected / 2 ** 20,
        rssKiBPerConn: rssIdle === undefined || rssConnected === undefined ? null : (rssConnected - rssIdle) / 1024 / members,
        exposures,
        exposuresSpilled,
        notes,
      };
      progress(
        `broadcast ${b + 1}: ${report.received}/${members} received, first ${fmt(row.firstMs)} ms, p50 ${fmt(row.p50Ms)} ms, ` +
          `last ${fmt(row.lastMs)} ms, ${fmt(row.cpuUsPerMember)} µs CPU/member`,
      );
      rows.push(row);
    }
    return rows;
  } finally {
    await fleet?.close();
    await server?.stop();
    await ingest?.stop();
  }
}

function sharedCpuNote(target: Target, clientProcesses: number): string {
  const others =
    target === 'herald'
      ? `gateway, ingest (fan-out), Redis, Pub/Sub emulator, ${clientProcesses} client procs`
      : `baseline server, Redis, ${clientProcesses} client procs (emulator idle)`;
  return `${cpus().length} cores shared: ${others}`;
}

function fmt(value: Row[string]): string {
  return typeof value === 'number' ? value.toFixed(1) : '-';
}
