/**
 * Idle authenticated connections: how many one machine holds and what each costs the gateway.
 *
 * G gateway processes (exposure publishing on, to the rig's Pub/Sub emulator) take N connections,
 * one user each, spread evenly over the gateways, over loopback source addresses (127.0.0.2, …;
 * at most PER_ADDRESS_PER_GATEWAY per address and gateway, under the gateway's per-address limit)
 * and over load-client processes (each far below the 20,000 open files a process may hold). Once
 * every connection has its `welcome`, each gateway's RSS is compared with its RSS before the
 * first connection: the memory one idle connection costs. Then one live message goes to every
 * user (or one user per gateway, --per-gateway-check 1), written to Redis as ingest writes it,
 * and the clients say when the last one arrived.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Row, Scenario, ScenarioContext } from '../../scenario';
import type { AppProcess } from '../../herald/app-process';
import { cpuSecondsOf } from '../../herald/proc-cpu';
import { startRig } from '../../herald/rig';
import { DirectWriter } from '../../load/direct-messages';
import { GatewayMetric, metric, readCounters } from '../../load/gateway-counters';
import { LoadFleet, type FleetStats } from '../../load/load-fleet';
import { cpuFields, cpuRoles, describeCpu, epochNow, openPlan, seconds, signTokens, startGateways } from '../../load/load-setup';
import { measureCpu } from '../../load/cpu-split';
import { clientsFor, planConnections } from '../../load/plan';
import { procMemory } from '../../load/proc-memory';
import { watchProgress } from '../../load/watch-progress';

/** The issue's target: RSS one idle connection may cost a gateway. */
const RSS_PER_CONNECTION_TARGET_KB = 8;
/** Quiet time before the baseline memory sample, and before the one right after the connect. */
const BASELINE_SETTLE_MS = 2000;
const POLL_MS = 100;
const STALL_MS = 30_000;

interface GatewayMemory {
  rssBytes: number;
  heapBytes: number;
}

export const idle: Scenario = {
  name: 'idle',
  description:
    'N idle authenticated connections on G gateway processes: connections held, gateway RSS per connection ' +
    `(target ≤ ${RSS_PER_CONNECTION_TARGET_KB} KB), time to connect, then one live message to every user: all received, how fast, gateway CPU`,
  flags: {
    connections: { kind: 'int', default: '19900', min: 1, description: 'connections in all, one user each' },
    gateways: { kind: 'int', default: '1', min: 1, max: 64, description: 'gateway processes (replicas on this machine)' },
    'per-gateway-check': {
      kind: 'int',
      default: '0',
      min: 0,
      max: 1,
      description: '1: the live message goes to one user per gateway only; 0: to every connected user',
    },
    'accept-rate': {
      kind: 'int',
      default: '2000',
      min: 1,
      max: 1_000_000,
      description: "each gateway's WS_ACCEPT_RATE (upgrades per second; the product default is 2000)",
    },
    clients: { kind: 'int', default: '0', min: 0, description: 'load-client processes (0: one per 10,000 connections, at least 2)' },
    'settle-seconds': {
      kind: 'int',
      default: '10',
      min: 2,
      max: 600,
      description: 'idle time after the last welcome before the memory sample that counts (lets V8 return the connect garbage)',
    },
  },
  columns: [
    { key: 'gateways' },
    { key: 'connections' },
    { key: 'held' },
    { key: 'heldAll', label: 'all held' },
    { key: 'rssPerConnKB', label: 'RSS KB/conn', digits: 2 },
    { key: 'heapPerConnKB', label: 'heap KB/conn', digits: 2 },
    { key: 'connectSeconds', label: 'connect s', digits: 2 },
    { key: 'connectCpuUsPerConn', label: 'CPU µs/conn' },
    { key: 'liveReceived', label: 'live recv' },
    { key: 'liveAllReceived', label: 'live all' },
    { key: 'liveSeconds', label: 'live s', digits: 2 },
    { key: 'liveCpuMs', label: 'live CPU ms' },
    { key: 'targetMet', label: 'target' },
  ],
  run,
};

async function run(ctx: ScenarioContext): Promise<Row[]> {
  const { flags, signal, progress } = ctx;
  const connections = flags.int('connections');
  const gatewayCount = flags.int('gateways');
  const tag = `idle-r${ctx.round}${randomBytes(2).toString('hex')}`;
  const userIds = Array.from({ length: connections }, (_, i) => `bench-${tag}-u${i}`);
  const plan = planConnections(connections, gatewayCount);
  const clientCount = clientsFor(connections, flags.int('clients'));
  ctx.parameter('sourceAddresses', plan.addresses.length);
  ctx.parameter('loadClients', clientCount);

  const rig = await startRig(signal, progress);
  let fleet: LoadFleet | undefined;
  const writer = DirectWriter.connect(rig.redis.url);
  try {
    ctx.parameter('pubsubEmulator', rig.pubsub.kind);
    progress(`starting ${gatewayCount} gateway(s), signing ${connections} tokens, starting ${clientCount} load clients`);
    const gateways = await startGateways(rig, gatewayCount, {
      EXPOSURE_TOPIC: `bench-${tag}`,
      WS_ACCEPT_RATE: String(flags.int('accept-rate')),
    });
    const tokens = await signTokens(rig, userIds, signal);
    fleet = await LoadFleet.start(clientCount);
    await sleep(BASELINE_SETTLE_MS, signal);
    const before = await Promise.all(gateways.map(sampleMemory));
    const cpu = measureCpu(cpuRoles(rig, gateways, fleet));

    progress(`opening ${connections} connections from ${plan.addresses.length} source addresses over ${clientCount} load clients`);
    const connect = await connectAll(fleet, openPlan(plan, gateways, tokens, false), ctx);
    const connectCpu = cpu.stop();
    const stats = await fleet.stats();
    // Memory right after the connect still holds its garbage; V8 gives it back once the process
    // has been quiet for a while (the memory reducer), hence the second, later sample.
    await sleep(BASELINE_SETTLE_MS, signal);
    const early = await Promise.all(gateways.map(sampleMemory));
    const settleMs = flags.int('settle-seconds') * 1000;
    progress(`connections held; gateway memory sampled again in ${settleMs / 1000} s`);
    await sleep(Math.max(0, settleMs - BASELINE_SETTLE_MS), signal);
    const after = await Promise.all(gateways.map(sampleMemory));
    const serverHeld = (await Promise.all(gateways.map((g) => readCounters(g.adminUrl)))).reduce(
      (n, counters) => n + metric(counters, GatewayMetric.CONNECTIONS),
      0,
    );
    const heldNow = await fleet.stats();
    const held = Math.min(heldNow.open, heldNow.welcomed, serverHeld);
    const heldAll = !connect.stalled && held === connections;
    const perConn = (samples: GatewayMemory[], key: keyof GatewayMemory) =>
      gateways.reduce((total, _, g) => total + (samples[g][key] - before[g][key]), 0) / Math.max(1, stats.welcomed) / 1024;
    const rssPerConnKB = perConn(after, 'rssBytes');
    const worstRssKB = Math.max(...gateways.map((_, g) => (after[g].rssBytes - before[g].rssBytes) / Math.max(1, plan.perGateway[g]) / 1024));
    progress(
      `held ${held}/${connections} (clients: ${heldNow.open} open, ${heldNow.welcomed} welcomed; gateways: ${serverHeld}), ` +
        `${rssPerConnKB.toFixed(2)} KB RSS per connection (${perConn(early, 'rssBytes').toFixed(2)} KB just after the connect), ` +
        `connected in ${connect.seconds?.toFixed(2) ?? '-'} s` +
        (stats.refused > 0 ? `, ${stats.refused} upgrades refused with 503 and retried` : ''),
    );
    progress(`CPU during the connect: ${describeCpu(connectCpu)}`);

    // User i is on gateway i mod G: the first G users are one per gateway.
    const recipients = flags.int('per-gateway-check') === 1 ? userIds.slice(0, gatewayCount) : userIds;
    const live = await sendLive(fleet, writer, gateways, recipients, ctx);
    progress(`live: ${live.received}/${recipients.length} received in ${live.seconds?.toFixed(2) ?? '-'} s, gateway CPU ${live.cpuMs?.toFixed(0) ?? '-'} ms`);

    const liveAllReceived = live.received >= recipients.length;
    return [
      {
        gateways: gatewayCount,
        connections,
        held,
        heldAll,
        rssPerConnKB,
        worstGatewayRssPerConnKB: worstRssKB,
        rssPerConnKBAtConnect: perConn(early, 'rssBytes'),
        heapPerConnKB: perConn(after, 'heapBytes'),
        heapPerConnKBAtConnect: perConn(early, 'heapBytes'),
        gatewayRssBeforeMB: before.reduce((n, m) => n + m.rssBytes, 0) / 2 ** 20,
        gatewayRssAfterMB: after.reduce((n, m) => n + m.rssBytes, 0) / 2 ** 20,
        connectSeconds: connect.seconds,
        connectCpuUsPerConn: connectCpu.gateways === null ? null : (connectCpu.gateways * 1e6) / Math.max(1, stats.welcomed),
        ...cpuFields('connectCpu', connectCpu),
        refused: heldNow.refused,
        failed: heldNow.failed,
        unexpectedFrames: heldNow.unexpected,
        closedBeforeEnd: Object.values(heldNow.closedByCode).reduce((n, k) => n + k, 0),
        clientRssMB: heldNow.rssBytes / 2 ** 20,
        liveRecipients: recipients.length,
        liveReceived: live.received,
        liveAllReceived,
        liveSeconds: live.seconds,
        liveCpuMs: live.cpuMs,
        targetMet: heldAll && liveAllReceived && rssPerConnKB <= RSS_PER_CONNECTION_TARGET_KB,
      },
    ];
  } finally {
    await fleet?.close();
    await writer.close();
    await rig.stop();
  }
}

/** Open every connection and wait for every `welcome`; seconds from the first attempt to the last welcome. */
async function connectAll(
  fleet: LoadFleet,
  plan: ReturnType<typeof openPlan>,
  ctx: ScenarioContext,
): Promise<{ seconds: number | null; stalled: boolean }> {
  const total = plan.connections.length;
  let opened = false;
  let openFailure: unknown;
  fleet.open(plan).then(
    () => (opened = true),
    (err: unknown) => (openFailure = err),
  );
  let stats: FleetStats | undefined;
  const watched = await watchProgress(
    async () => {
      if (openFailure) throw openFailure;
      stats = await fleet.stats();
      const closed = Object.values(stats.closedByCode).reduce((n, k) => n + k, 0);
      return {
        done: opened && stats.welcomed + stats.failed + closed >= total,
        progress: stats.welcomed + stats.failed + stats.refused + closed,
        line:
          `connect: ${stats.open} open, ${stats.welcomed}/${total} welcomed, ${stats.refused} refused (503, retried), ` +
          `${stats.failed} failed, ${closed} closed${stats.lastError ? `; last error: ${stats.lastError}` : ''}`,
      };
    },
    { intervalMs: POLL_MS, stallMs: STALL_MS, signal: ctx.signal, report: ctx.progress },
  );
  return { seconds: seconds(stats?.firstAttemptAt ?? null, stats?.lastWelcomeAt ?? null), stalled: watched.stalled };
}

/** One message to each of `recipients`, straight into Redis; how many arrived, when the last did, gateway CPU meanwhile. */
async function sendLive(
  fleet: LoadFleet,
  writer: DirectWriter,
  gateways: readonly AppProcess[],
  recipients: readonly string[],
  ctx: ScenarioContext,
): Promise<{ received: number; seconds: number | null; cpuMs: number | null }> {
  const pids = gateways.map((g) => g.pid);
  const cpuBefore = cpuSecondsOf(pids);
  const sentAt = epochNow();
  ctx.progress(`live: one message to ${recipients.length} users`);
  await writer.send(recipients, { text: 'bench live message' }, ctx.signal);
  let stats: FleetStats | undefined;
  await watchProgress(
    async () => {
      stats = await fleet.stats(1);
      return {
        done: stats.withAtLeast >= recipients.length,
        progress: stats.withAtLeast,
        line: `live: ${stats.withAtLeast}/${recipients.length} received`,
      };
    },
    { intervalMs: POLL_MS, stallMs: STALL_MS, signal: ctx.signal, report: ctx.progress },
  );
  const cpuAfter = cpuSecondsOf(pids);
  return {
    received: stats?.withAtLeast ?? 0,
    seconds: seconds(sentAt, stats?.lastMessageAt ?? null),
    cpuMs: cpuBefore === undefined || cpuAfter === undefined ? null : (cpuAfter - cpuBefore) * 1000,
  };
}

async function sampleMemory(gateway: AppProcess): Promise<GatewayMemory> {
  const memory = procMemory(gateway.pid);
  if (!memory) throw new Error(`cannot read /proc/${gateway.pid}/status: the idle scenario needs Linux's /proc`);
  return { rssBytes: memory.rssBytes, heapBytes: metric(await readCounters(gateway.adminUrl), GatewayMetric.HEAP_USED) };
}

async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  await delay(ms, undefined, { signal });
}
