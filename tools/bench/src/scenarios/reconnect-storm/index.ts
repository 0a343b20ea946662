/**
 * Reconnect storm: U users, each with M messages waiting offline, all connect to one gateway at
 * once and ack everything they get. Measured: from the first connection attempt until every one
 * of the U×M messages was delivered and its ack applied in Redis (the gateway's
 * herald_gateway_acks_total counts ids actually removed from inboxes), the gateway's CPU time per
 * delivered message (/proc/<pid>/stat) and its peak RSS. Afterwards every inbox is checked empty.
 *
 * The messages are written straight to Redis the way ingest writes them (one body per message,
 * one atomic deliver per recipient), so loading 199k deliveries takes seconds, not minutes.
 * Exposure publishing is on: every push is an exposure event to the rig's Pub/Sub emulator.
 */
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import type { Row, Scenario, ScenarioContext } from '../../scenario';
import { startRig } from '../../herald/rig';
import { DirectWriter, INBOX_CAP } from '../../load/direct-messages';
import { GatewayMetric, metric, readCounters } from '../../load/gateway-counters';
import { LoadFleet } from '../../load/load-fleet';
import { cpuFields, cpuRoles, describeCpu, openPlan, seconds, signTokens, startGateways } from '../../load/load-setup';
import { measureCpu } from '../../load/cpu-split';
import { clientsFor, planConnections } from '../../load/plan';
import { procMemory } from '../../load/proc-memory';
import { watchProgress } from '../../load/watch-progress';

/** The target: every message delivered and acked within this long. */
const TARGET_SECONDS = 10;
/** Clients are polled this often; the gateway's /metrics only once every message has arrived. */
const POLL_MS = 50;
const STALL_MS = 30_000;
const SETTLE_MS = 1000;

export const reconnectStorm: Scenario = {
  name: 'reconnect-storm',
  description:
    'U users with M offline messages each connect to one gateway at once and ack everything: time until all U×M are ' +
    `delivered and acked (target ≤ ${TARGET_SECONDS} s), gateway CPU µs per message, peak RSS`,
  flags: {
    users: { kind: 'int', default: '19900', min: 1, description: 'users, one connection each' },
    messages: { kind: 'int', default: '10', min: 1, max: INBOX_CAP, description: 'offline messages per user' },
    'accept-rate': {
      kind: 'int',
      default: '2000',
      min: 1,
      max: 1_000_000,
      description: "the gateway's WS_ACCEPT_RATE (upgrades per second; the product default is 2000; a refused client retries after Retry-After)",
    },
    clients: { kind: 'int', default: '0', min: 0, description: 'load-client processes (0: one per 10,000 users, at least 2)' },
  },
  columns: [
    { key: 'users' },
    { key: 'messages' },
    { key: 'delivered' },
    { key: 'acked' },
    { key: 'connectSeconds', label: 'connect s', digits: 2 },
    { key: 'deliveredSeconds', label: 'delivered s', digits: 2 },
    { key: 'seconds', label: 'acked s', digits: 2 },
    { key: 'cpuPerMsgUs', label: 'CPU µs/msg', digits: 1 },
    { key: 'peakRssMB', label: 'peak RSS MB' },
    { key: 'refused' },
    { key: 'targetMet', label: `≤ ${TARGET_SECONDS} s` },
  ],
  run,
};

async function run(ctx: ScenarioContext): Promise<Row[]> {
  const { flags, signal, progress } = ctx;
  const users = flags.int('users');
  const messages = flags.int('messages');
  const expected = users * messages;
  const tag = `storm-r${ctx.round}${randomBytes(2).toString('hex')}`;
  const userIds = Array.from({ length: users }, (_, i) => `bench-${tag}-u${i}`);
  const plan = planConnections(users, 1);
  const clientCount = clientsFor(users, flags.int('clients'));
  ctx.parameter('sourceAddresses', plan.addresses.length);
  ctx.parameter('loadClients', clientCount);

  const rig = await startRig(signal, progress);
  let fleet: LoadFleet | undefined;
  const writer = DirectWriter.connect(rig.redis.url);
  try {
    ctx.parameter('pubsubEmulator', rig.pubsub.kind);
    progress(`loading ${messages} messages into each of ${users} offline inboxes (${expected} deliveries)`);
    const preloadStarted = Date.now();
    for (let m = 0; m < messages; m++) await writer.send(userIds, { text: 'bench offline message', n: m }, signal);
    ctx.parameter('preloadSeconds', (Date.now() - preloadStarted) / 1000);

    progress(`starting the gateway, signing ${users} tokens, starting ${clientCount} load clients`);
    const [gateway] = await startGateways(rig, 1, { EXPOSURE_TOPIC: `bench-${tag}`, WS_ACCEPT_RATE: String(flags.int('accept-rate')) });
    const tokens = await signTokens(rig, userIds, signal);
    const load = (fleet = await LoadFleet.start(clientCount));
    await delay(SETTLE_MS, undefined, { signal });
    const baseline = await readCounters(gateway.adminUrl);
    const cpu = measureCpu(cpuRoles(rig, [gateway], load));

    progress(`${users} users connect at once from ${plan.addresses.length} source addresses over ${clientCount} load clients, acking everything`);
    let openFailure: unknown;
    const started = Date.now();
    load.open(openPlan(plan, [gateway], tokens, true)).catch((err: unknown) => (openFailure = err));
    let acked = 0;
    const watched = await watchProgress(
      async () => {
        if (openFailure) throw openFailure;
        const stats = await load.stats(messages);
        const allDelivered = stats.withAtLeast >= users;
        if (allDelivered) {
          acked = metric(await readCounters(gateway.adminUrl), GatewayMetric.ACKS) - metric(baseline, GatewayMetric.ACKS);
        }
        return {
          done: allDelivered && acked >= expected,
          progress: stats.welcomed + stats.messages + stats.refused + acked,
          line:
            `storm: ${stats.open} open, ${stats.welcomed}/${users} welcomed, ${stats.refused} refused (503, retried), ` +
            `${stats.messages}/${expected} delivered, ${stats.ackedIds} acks sent` +
            (allDelivered ? `, ${acked}/${expected} acks applied` : '') +
            (stats.lastError ? `; last error: ${stats.lastError}` : ''),
        };
      },
      { intervalMs: POLL_MS, stallMs: STALL_MS, signal, report: progress },
    );
    const doneAt = watched.at;
    const split = cpu.stop();
    const end = await load.stats(messages);
    const counters = await readCounters(gateway.adminUrl);
    acked = metric(counters, GatewayMetric.ACKS) - metric(baseline, GatewayMetric.ACKS);
    const left = await writer.inboxTotal(userIds);
    const memory = procMemory(gateway.pid);
    const cpuSeconds = split.gateways;
    const totalSeconds = watched.stalled ? null : seconds(end.firstAttemptAt, doneAt);
    const row: Row = {
      users,
      messages,
      delivered: end.messages,
      acked,
      inboxLeft: left,
      pushed: metric(counters, GatewayMetric.PUSHED) - metric(baseline, GatewayMetric.PUSHED),
      connectSeconds: seconds(end.firstAttemptAt, end.lastWelcomeAt),
      deliveredSeconds: seconds(end.firstAttemptAt, end.lastMessageAt),
      seconds: totalSeconds,
      cpuPerMsgUs: cpuSeconds === null || end.messages === 0 ? null : (cpuSeconds * 1e6) / end.messages,
      peakRssMB: memory ? memory.peakRssBytes / 2 ** 20 : null,
      ...cpuFields('cpu', split),
      refused: end.refused,
      failed: end.failed,
      unexpectedFrames: end.unexpected,
      closedBeforeEnd: Object.values(end.closedByCode).reduce((n, k) => n + k, 0),
      exposuresPending: metric(counters, GatewayMetric.EXPOSURES_PENDING),
      targetMet: totalSeconds !== null && totalSeconds <= TARGET_SECONDS && end.messages >= expected && acked >= expected && left === 0,
    };
    progress(
      `${end.messages}/${expected} delivered, ${acked} acked (${left} left in inboxes) in ${totalSeconds?.toFixed(2) ?? '-'} s; ` +
        `connect ${(row.connectSeconds as number | null)?.toFixed(2) ?? '-'} s, ` +
        `${(row.cpuPerMsgUs as number | null)?.toFixed(1) ?? '-'} µs gateway CPU per message, peak RSS ${(row.peakRssMB as number | null)?.toFixed(0) ?? '-'} MB`,
    );
    progress(`CPU meanwhile: ${describeCpu(split)} (${((doneAt - started) / 1000).toFixed(1)} s wall on ${cpus().length} cores)`);
    return [row];
  } finally {
    await fleet?.close();
    await writer.close();
    await rig.stop();
  }
}
