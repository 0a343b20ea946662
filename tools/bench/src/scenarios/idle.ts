/** Idle connections (docs/BENCHMARKS.md): each gateway's RSS per connection against its RSS before the first one. */
import { clientsFor, connectLine, Fleet, planConnections, type FleetStats } from '../fleet';
import { readMetrics } from '../metrics';
import { cpuFields, cpuUsPer, cpuWindow, describeCpu, procMemory } from '../procs';
import { secondsBetween } from '../report';
import { Rig, userIdsFor, wsUrlOf, type AppProcess } from '../rig';
import { columns, type Scenario } from '../scenario';
import { sleep } from '../watch';
import { writeMessage } from '../writes';

/** The issue's target. */
const RSS_PER_CONNECTION_TARGET_KB = 8;
/** Quiet time before the baseline memory sample, and before the one right after the connect. */
const QUIET_MS = 2000;
const STALL_MS = 30_000;

async function sampleMemory(gateway: AppProcess): Promise<{ rssBytes: number; heapBytes: number }> {
  const memory = procMemory(gateway.pid);
  if (!memory) throw new Error(`cannot read /proc/${gateway.pid}/status: the idle scenario needs Linux's /proc`);
  return { rssBytes: memory.rssBytes, heapBytes: (await readMetrics(gateway.adminUrl)).value('nodejs_heap_size_used_bytes') };
}

export const idle: Scenario = {
  name: 'idle',
  description:
    'N idle authenticated connections on G gateway processes: connections held, gateway RSS per connection ' +
    `(target ≤ ${RSS_PER_CONNECTION_TARGET_KB} KB), time to connect, then one live message to every user: all received, how fast, gateway CPU`,
  flags: {
    connections: { kind: 'int', default: '19900', min: 1, description: 'connections in all, one user each' },
    gateways: { kind: 'int', default: '1', min: 1, max: 64, description: 'gateway processes (replicas on this machine)' },
    'per-gateway-check': { kind: 'int', default: '0', min: 0, max: 1, description: '1: the live message goes to one user per gateway only; 0: to every connected user' },
    'accept-rate': { kind: 'int', default: '2000', min: 1, max: 1_000_000, description: "each gateway's WS_ACCEPT_RATE (upgrades per second; the product default is 2000)" },
    clients: { kind: 'int', default: '0', min: 0, description: 'load-client processes (0: one per 10,000 connections, at least 2)' },
    'settle-seconds': {
      kind: 'int',
      default: '120',
      min: 2,
      max: 600,
      description:
        "idle time after the last welcome before the memory sample that counts: V8's memory reducer returns the connect's garbage about a minute after it (the sample 2 s after the connect is reported beside it)",
    },
  },
  columns: columns(
    'gateways', 'connections', 'held', ['heldAll', 'all held'], ['rssPerConnKB', 'RSS KB/conn', 2], ['rssPerConnKBAtConnect', 'at connect', 2],
    ['heapPerConnKB', 'heap KB/conn', 2], ['connectSeconds', 'connect s', 2], ['connectCpuUsPerConn', 'CPU µs/conn'],
    ['liveReceived', 'live recv'], ['liveAllReceived', 'live all'], ['liveSeconds', 'live s', 2],
    ['liveCpuMs', 'live CPU ms'], ['targetMet', 'target'],
  ),
  run: (ctx) => Rig.run(ctx, async (rig, runTag) => {
    const { flags, signal, progress } = ctx;
    const connections = flags.int('connections');
    const gatewayCount = flags.int('gateways');
    const tag = `idle-${runTag}`;
    const userIds = userIdsFor(`bench-${tag}-u`, connections);
    const clientCount = clientsFor(connections, flags.int('clients'));
    const { addresses, perServer: perGateway } = planConnections(connections, gatewayCount);
    ctx.parameter('sourceAddresses', addresses.length);
    ctx.parameter('loadClients', clientCount);
    progress(`starting ${gatewayCount} gateway(s), signing ${connections} tokens, starting ${clientCount} load clients`);
    const env = { EXPOSURE_TOPIC: `bench-${tag}`, WS_ACCEPT_RATE: String(flags.int('accept-rate')) };
    const gateways = await Promise.all(Array.from({ length: gatewayCount }, () => rig.startGateway(env)));
    const tokens = await rig.userTokens(userIds);
    const fleet = await Fleet.start(rig, clientCount);
    await sleep(QUIET_MS, signal);
    const before = await Promise.all(gateways.map(sampleMemory));
    const window = rig.cpuWindow({ gateways: gateways.map((g) => g.pid), clients: fleet.pids });

    progress(`opening ${connections} connections over ${clientCount} load clients`);
    fleet.startOpening({ herald: true, urls: gateways.map(wsUrlOf), credentials: tokens, ack: false });
    const connect = await fleet.until(
      (stats) => ({
        done: stats.welcomed + stats.failed + stats.closed >= connections,
        progress: stats.welcomed + stats.failed + stats.refused + stats.closed,
        line: `connect: ${connectLine(stats, connections, `${stats.failed} failed, ${stats.closed} closed`)}`,
      }),
      { stallMs: STALL_MS, signal, report: progress },
    );
    const { stats } = connect;
    const connectCpu = window.stop();
    const connectSeconds = secondsBetween(stats.firstAttemptAt, stats.lastWelcomeAt);
    // Memory right after the connect still holds its garbage; V8 gives it back once the process
    // has been quiet for a while (the memory reducer), hence the second, later sample.
    await sleep(QUIET_MS, signal);
    const early = await Promise.all(gateways.map(sampleMemory));
    const settleMs = flags.int('settle-seconds') * 1000;
    progress(`connections held; gateway memory sampled again in ${settleMs / 1000} s`);
    await sleep(Math.max(0, settleMs - QUIET_MS), signal);
    const after = await Promise.all(gateways.map(sampleMemory));
    let serverHeld = 0;
    for (const g of gateways) serverHeld += (await readMetrics(g.adminUrl)).value('herald_gateway_connections');
    const heldNow = await fleet.stats();
    const held = Math.min(heldNow.open, heldNow.welcomed, serverHeld);
    const heldAll = !connect.stalled && held === connections;
    const perConn = (samples: typeof after, key: 'rssBytes' | 'heapBytes') =>
      gateways.reduce((total, _, g) => total + (samples[g][key] - before[g][key]), 0) / Math.max(1, stats.welcomed) / 1024;
    const rssPerConnKB = perConn(after, 'rssBytes');
    progress(
      `held ${held}/${connections} (clients: ${heldNow.open} open, ${heldNow.welcomed} welcomed; gateways: ${serverHeld}), ` +
        `${rssPerConnKB.toFixed(2)} KB RSS per connection (${perConn(early, 'rssBytes').toFixed(2)} KB just after the connect), ` +
        `connected in ${connectSeconds?.toFixed(2) ?? '-'} s` +
        (stats.refused > 0 ? `, ${stats.refused} upgrades refused with 503 and retried` : ''),
    );
    progress(`CPU during the connect: ${describeCpu(connectCpu)}`);

    // User i is on gateway i mod G: the first G users are one per gateway.
    const recipients = flags.int('per-gateway-check') === 1 ? userIds.slice(0, gatewayCount) : userIds;
    const liveWindow = cpuWindow({ gateways: gateways.map((g) => g.pid) });
    const sentAt = performance.timeOrigin + performance.now();
    progress(`live: one message to ${recipients.length} users`);
    await writeMessage(rig.commands, recipients, { text: 'bench live message' }, 3600_000);
    const want = recipients.length;
    const poll = (live: FleetStats) => ({ done: live.withAtLeast >= want, progress: live.withAtLeast, line: `live: ${live.withAtLeast}/${want} received` });
    const { stats: live } = await fleet.until(poll, { stallMs: STALL_MS, signal, report: progress });
    const liveCpu = liveWindow.stop().groups.gateways;
    const liveCpuMs = liveCpu === undefined ? null : liveCpu * 1000;
    const liveSeconds = secondsBetween(sentAt, live.lastMessageAt);
    progress(`live: ${live.withAtLeast}/${recipients.length} received in ${liveSeconds?.toFixed(2) ?? '-'} s, gateway CPU ${liveCpuMs?.toFixed(0) ?? '-'} ms`);
    const liveAllReceived = live.withAtLeast >= recipients.length;
    return [
      {
        gateways: gatewayCount, connections, held, heldAll, rssPerConnKB,
        worstGatewayRssPerConnKB: Math.max(...gateways.map((_, g) => (after[g].rssBytes - before[g].rssBytes) / Math.max(1, perGateway[g]) / 1024)),
        rssPerConnKBAtConnect: perConn(early, 'rssBytes'), heapPerConnKB: perConn(after, 'heapBytes'),
        heapPerConnKBAtConnect: perConn(early, 'heapBytes'),
        gatewayRssBeforeMB: before.reduce((n, m) => n + m.rssBytes, 0) / 2 ** 20,
        gatewayRssAfterMB: after.reduce((n, m) => n + m.rssBytes, 0) / 2 ** 20, connectSeconds,
        connectCpuUsPerConn: cpuUsPer(connectCpu.groups.gateways, Math.max(1, stats.welcomed)),
        ...cpuFields('connectCpu', connectCpu), refused: heldNow.refused, failed: heldNow.failed,
        unexpectedFrames: heldNow.unexpected, closedBeforeEnd: heldNow.closed, clientRssMB: heldNow.rssBytes / 2 ** 20,
        liveRecipients: recipients.length, liveReceived: live.withAtLeast, liveAllReceived, liveSeconds, liveCpuMs,
        targetMet: heldAll && liveAllReceived && rssPerConnKB <= RSS_PER_CONNECTION_TARGET_KB,
      },
    ];
  }),
};
