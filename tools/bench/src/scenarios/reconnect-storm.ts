/**
 * Reconnect storm: U users, each with M messages waiting offline, all connect to one gateway at
 * once and ack everything they get. Measured: from the first connection attempt until every one
 * of the U×M messages was delivered and its ack applied in Redis (the gateway's
 * herald_gateway_acks_total counts ids actually removed from inboxes), the gateway's CPU time per
 * delivered message and its peak RSS. Afterwards every inbox is checked empty. The messages are
 * written straight to Redis the way ingest writes them, so loading 199k deliveries takes seconds.
 * Exposure publishing is on: every push is an exposure event to the rig's Pub/Sub emulator.
 */
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { keys } from '@herald/redis';
import { INBOX_DEFAULT_CAP } from '@herald/types';
import { clientsFor, Fleet } from '../fleet';
import { readMetrics } from '../metrics';
import { cpuFields, cpuWindow, describeCpu, procMemory } from '../procs';
import { secondsBetween, summarize } from '../report';
import { Rig } from '../rig';
import { columns, type Row, type Scenario } from '../scenario';
import { sleep } from '../watch';
import { writeMessage } from '../writes';

/** The target: every message delivered and acked within this long. */
const TARGET_SECONDS = 10;
const ACKS = 'herald_gateway_acks_total';

export const reconnectStorm: Scenario = {
  name: 'reconnect-storm',
  description:
    'U users with M offline messages each connect to one gateway at once and ack everything: time until all U×M are ' +
    `delivered and acked (target ≤ ${TARGET_SECONDS} s), gateway CPU µs per message, peak RSS`,
  flags: {
    users: { kind: 'int', default: '19900', min: 1, description: 'users, one connection each' },
    messages: { kind: 'int', default: '10', min: 1, max: INBOX_DEFAULT_CAP, description: 'offline messages per user' },
    'accept-rate': { kind: 'int', default: '2000', min: 1, max: 1_000_000, description: "the gateway's WS_ACCEPT_RATE (upgrades per second; the product default is 2000; a refused client retries after Retry-After)" },
    clients: { kind: 'int', default: '0', min: 0, description: 'load-client processes (0: one per 10,000 users, at least 2)' },
  },
  columns: columns(
    'users', 'messages', 'delivered', 'acked', ['connectSeconds', 'connect s', 2], ['deliveredSeconds', 'delivered s', 2],
    ['seconds', 'acked s', 2], ['cpuPerMsgUs', 'CPU µs/msg', 1], ['peakRssMB', 'peak RSS MB'], 'refused',
    ['targetMet', `≤ ${TARGET_SECONDS} s`],
  ),
  async run(ctx) {
    const { flags, signal, progress } = ctx;
    const users = flags.int('users');
    const messages = flags.int('messages');
    const expected = users * messages;
    const tag = `storm-r${ctx.round}${randomBytes(2).toString('hex')}`;
    const userIds = Array.from({ length: users }, (_, i) => `bench-${tag}-u${i}`);
    const clientCount = clientsFor(users, flags.int('clients'));
    ctx.parameter('sourceAddresses', Math.max(1, Math.ceil(users / 500)));
    ctx.parameter('loadClients', clientCount);

    const rig = await Rig.start(signal, progress);
    try {
      progress(`loading ${messages} messages into each of ${users} offline inboxes (${expected} deliveries)`);
      const preloadStarted = Date.now();
      for (let m = 0; m < messages; m++) {
        signal.throwIfAborted();
        await writeMessage(rig.commands, userIds, { text: 'bench offline message', n: m }, 3600_000);
      }
      ctx.parameter('preloadSeconds', (Date.now() - preloadStarted) / 1000);

      progress(`starting the gateway, signing ${users} tokens, starting ${clientCount} load clients`);
      const gateway = await rig.startGateway({ EXPOSURE_TOPIC: `bench-${tag}`, WS_ACCEPT_RATE: String(flags.int('accept-rate')) });
      ctx.parameter('pubsubEmulator', (await rig.pubsub()).emulator.kind);
      const tokens = await rig.userTokens(userIds);
      const fleet = await Fleet.start(rig, clientCount);
      await sleep(1000, signal);
      const baseline = await readMetrics(gateway.adminUrl);
      const window = cpuWindow(rig.cpuGroups({ gateways: [gateway.pid], clients: fleet.pids }));

      progress(`${users} users connect at once over ${clientCount} load clients, acking everything`);
      let openFailure: unknown;
      const started = Date.now();
      fleet.open({ herald: true, urls: [`${gateway.url.replace(/^http/, 'ws')}/ws`], credentials: tokens, ack: true }).catch((err) => (openFailure = err));
      let acked = 0;
      // The clients are polled often; the gateway's /metrics only once every message has arrived.
      const watched = await fleet.until(
        async (stats) => {
          if (openFailure) throw openFailure;
          const allDelivered = stats.withAtLeast >= users;
          if (allDelivered) acked = (await readMetrics(gateway.adminUrl)).value(ACKS) - baseline.value(ACKS);
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
        { intervalMs: 50, stallMs: 30_000, signal, report: progress, atLeast: messages },
      );
      const split = window.stop();
      const end = await fleet.stats(messages);
      const metrics = await readMetrics(gateway.adminUrl);
      acked = metrics.value(ACKS) - baseline.value(ACKS);
      let left = 0;
      for (let start = 0; start < users; start += 5000) {
        for (const n of await Promise.all(userIds.slice(start, start + 5000).map((u) => rig.commands.llen(keys.inbox(u))))) left += n;
      }
      const memory = procMemory(gateway.pid);
      const cpuSeconds = split.groups.gateways;
      const totalSeconds = watched.stalled ? null : secondsBetween(end.firstAttemptAt, watched.at);
      const row: Row = {
        users, messages, delivered: end.messages, acked, inboxLeft: left,
        pushed: metrics.value('herald_gateway_messages_pushed_total') - baseline.value('herald_gateway_messages_pushed_total'),
        connectSeconds: secondsBetween(end.firstAttemptAt, end.lastWelcomeAt),
        deliveredSeconds: secondsBetween(end.firstAttemptAt, end.lastMessageAt), seconds: totalSeconds,
        cpuPerMsgUs: cpuSeconds === undefined || end.messages === 0 ? null : (cpuSeconds * 1e6) / end.messages,
        peakRssMB: memory ? memory.peakRssBytes / 2 ** 20 : null, ...cpuFields('cpu', split), refused: end.refused,
        failed: end.failed, unexpectedFrames: end.unexpected, closedBeforeEnd: end.closed,
        exposuresPending: metrics.value('herald_exposures_pending'),
        targetMet: totalSeconds !== null && totalSeconds <= TARGET_SECONDS && end.messages >= expected && acked >= expected && left === 0,
      };
      progress(`${summarize(reconnectStorm.columns, row)}; ${left} left in inboxes`);
      progress(`CPU meanwhile: ${describeCpu(split)} (${((watched.at - started) / 1000).toFixed(1)} s wall on ${cpus().length} cores)`);
      return [row];
    } finally {
      await rig.stop();
    }
  },
};
