/**
 * Reconnect storm (docs/BENCHMARKS.md): the clock runs until every ack is applied in Redis
 * (herald_gateway_acks_total counts ids removed from inboxes). The messages are written straight
 * to Redis as ingest writes them, so loading 199k deliveries takes seconds.
 */
import { cpus } from 'node:os';
import { keys } from '@herald/redis';
import { INBOX_DEFAULT_CAP } from '@herald/types';
import { clientsFor, connectLine, Fleet, planConnections } from '../fleet';
import { readMetrics } from '../metrics';
import { cpuFields, cpuUsPer, describeCpu, procMemory } from '../procs';
import { secondsBetween, summarize } from '../report';
import { Rig, userIdsFor, wsUrlOf } from '../rig';
import { columns, type Row, type Scenario } from '../scenario';
import { sleep } from '../watch';
import { writeMessage } from '../writes';

/** The issue's target. */
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
  run: (ctx) => Rig.run(ctx, async (rig, runTag) => {
    const { flags, signal, progress } = ctx;
    const users = flags.int('users');
    const messages = flags.int('messages');
    const expected = users * messages;
    const tag = `storm-${runTag}`;
    const userIds = userIdsFor(`bench-${tag}-u`, users);
    const clientCount = clientsFor(users, flags.int('clients'));
    ctx.parameter('sourceAddresses', planConnections(users, 1).addresses.length);
    ctx.parameter('loadClients', clientCount);

    progress(`loading ${messages} messages into each of ${users} offline inboxes (${expected} deliveries)`);
    const preloadStarted = Date.now();
    for (let m = 0; m < messages; m++) {
      signal.throwIfAborted();
      await writeMessage(rig.commands, userIds, { text: 'bench offline message', n: m }, 3600_000);
    }
    ctx.parameter('preloadSeconds', (Date.now() - preloadStarted) / 1000);

    progress(`starting the gateway, signing ${users} tokens, starting ${clientCount} load clients`);
    const gateway = await rig.startGateway({ EXPOSURE_TOPIC: `bench-${tag}`, WS_ACCEPT_RATE: String(flags.int('accept-rate')) });
    const tokens = await rig.userTokens(userIds);
    const fleet = await Fleet.start(rig, clientCount);
    await sleep(1000, signal);
    const baseline = await readMetrics(gateway.adminUrl);
    const window = rig.cpuWindow({ gateways: [gateway.pid], clients: fleet.pids });

    progress(`${users} users connect at once over ${clientCount} load clients, acking everything`);
    const started = Date.now();
    fleet.startOpening({ herald: true, urls: [wsUrlOf(gateway)], credentials: tokens, ack: true });
    let acked = 0;
    // The clients are polled often; the gateway's /metrics only once every message has arrived.
    const watched = await fleet.until(
      async (stats) => {
        const allDelivered = stats.withAtLeast >= users;
        if (allDelivered) acked = (await readMetrics(gateway.adminUrl)).value(ACKS) - baseline.value(ACKS);
        const applied = allDelivered ? `, ${acked}/${expected} acks applied` : '';
        return {
          done: allDelivered && acked >= expected,
          progress: stats.welcomed + stats.messages + stats.refused + acked,
          line: `storm: ${connectLine(stats, users, `${stats.messages}/${expected} delivered, ${stats.ackedIds} acks sent${applied}`)}`,
        };
      },
      { intervalMs: 50, stallMs: 30_000, signal, report: progress, atLeast: messages },
    );
    const split = window.stop();
    const end = await fleet.stats(messages);
    const metrics = await readMetrics(gateway.adminUrl);
    acked = metrics.value(ACKS) - baseline.value(ACKS);
    const left = (await rig.inChunks(userIds, 5000, (u) => rig.commands.llen(keys.inbox(u)))).reduce((sum, n) => sum + n, 0);
    const memory = procMemory(gateway.pid);
    const totalSeconds = watched.stalled ? null : secondsBetween(end.firstAttemptAt, watched.at);
    const row: Row = {
      users, messages, delivered: end.messages, acked, inboxLeft: left,
      pushed: metrics.value('herald_gateway_messages_pushed_total') - baseline.value('herald_gateway_messages_pushed_total'),
      connectSeconds: secondsBetween(end.firstAttemptAt, end.lastWelcomeAt),
      deliveredSeconds: secondsBetween(end.firstAttemptAt, end.lastMessageAt), seconds: totalSeconds,
      cpuPerMsgUs: cpuUsPer(split.groups.gateways, end.messages),
      peakRssMB: memory ? memory.peakRssBytes / 2 ** 20 : null, ...cpuFields('cpu', split), refused: end.refused,
      failed: end.failed, unexpectedFrames: end.unexpected, closedBeforeEnd: end.closed,
      exposuresPending: metrics.value('herald_exposures_pending'),
      targetMet: totalSeconds !== null && totalSeconds <= TARGET_SECONDS && end.messages >= expected && acked >= expected && left === 0,
    };
    progress(`${summarize(reconnectStorm.columns, row)}; ${left} left in inboxes`);
    progress(`CPU meanwhile: ${describeCpu(split)} (${((watched.at - started) / 1000).toFixed(1)} s wall on ${cpus().length} cores)`);
    return [row];
  }),
};
