/**
 * The `gateway` source: the product's path to the topic. One gateway process (exposure publishing
 * to the pipeline's topic, a gatewayId of its own), `online` connected clients that ack every
 * message (live-push's client processes), and live-push's open-loop producer process, which
 * writes each message to one user in Redis the way ingest does, round-robin, at the rate. Every
 * push is one exposure event.
 */
import { join } from 'node:path';
import { sampleGateway } from '../../herald/gateway-metrics';
import type { Rig } from '../../herald/rig';
import { ClientFleet } from '../live-push/client-fleet';
import { exposuresSettled, exposuresTaken } from '../live-push/exposures';
import type { RunReply, SetupRequest } from '../live-push/producer-protocol';
import { GATEWAY_BENCH_ENV } from '../live-push/push-rig';
import { forkWorker, type Worker } from '../live-push/worker-ipc';
import type { EventSource } from './source';

/** live-push's producer process: the same open-loop writer, shared rather than copied. */
const PRODUCER_MAIN = join(__dirname, '..', 'live-push', 'producer-process.ts');
const MESSAGE_TTL_SECONDS = 600;
/** Clients that stop receiving for this long: the rest of the messages count as not pushed. */
const CLIENTS_STALL_MS = 10_000;
/** After the clients have everything: the gateway's last exposure batches reach Pub/Sub. */
const EXPOSURES_TIMEOUT_MS = 30_000;

export interface GatewaySourceOptions {
  online: number;
  clientProcesses: number;
  progress(line: string): void;
}

export async function startGatewaySource(rig: Rig, topic: string, tag: string, opts: GatewaySourceOptions): Promise<EventSource> {
  const gatewayId = `bench-${tag}-gateway`;
  const userIds = Array.from({ length: opts.online }, (_, i) => `pipe-${tag}-${i}`);
  const gateway = await rig.startGateway({ ...GATEWAY_BENCH_ENV, EXPOSURE_TOPIC: topic, GATEWAY_ID: gatewayId });
  let fleet: ClientFleet | undefined;
  let producer: Worker | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await fleet?.close();
      await producer?.request({ type: 'close' }, 10_000).catch(() => undefined); // stopped below either way
      await producer?.stop();
      await gateway.stop();
    })());
  try {
    opts.progress(`gateway source: connecting ${opts.online} clients`);
    const users = await Promise.all(userIds.map(async (id) => ({ id, token: await rig.userToken(id) })));
    fleet = await ClientFleet.connect({
      target: 'herald',
      url: `${gateway.url.replace(/^http/, 'ws')}/ws`,
      users,
      processes: opts.clientProcesses,
      ack: true,
      keepPerSeq: false,
    });
    producer = forkWorker(PRODUCER_MAIN, 'pipeline producer');
    const setup: SetupRequest = { type: 'setup', target: 'herald', redisUrl: rig.redis.url, userIds, ttlSeconds: MESSAGE_TTL_SECONDS };
    await producer.request(setup);
  } catch (err) {
    await stop();
    throw err;
  }
  const clients = fleet;
  const writer = producer;
  return {
    kind: 'gateway',
    gatewayId,
    cpuGroups: { gateway: [gateway.pid], clients: clients.pids, producer: [writer.pid] },
    async run(rate, seconds, signal, progress) {
      await clients.reset();
      const before = await sampleGateway(gateway.adminUrl);
      const sent = await writer.request<RunReply>({ type: 'run', rate, seconds }, (seconds + 120) * 1000);
      if (sent.failed > 0) progress(`producer: ${sent.failed} writes failed, the first: ${sent.firstError}`);
      const counts = await clients.untilReceived(sent.sent, { stallMs: CLIENTS_STALL_MS, signal, progress });
      if (counts.closed > 0 || counts.unexpected > 0) {
        progress(`clients: ${counts.closed} closed (first code ${counts.firstCloseCode}), ${counts.unexpected} unexpected frames`);
      }
      const after = await exposuresSettled(gateway.adminUrl, exposuresTaken(before) + counts.received, EXPOSURES_TIMEOUT_MS, signal);
      return {
        events: after.pushed - before.pushed,
        published: exposuresTaken(after) - exposuresTaken(before),
        failed: after.failed - before.failed,
        sent: sent.sent,
        senderLagMs: sent.maxLagMs,
        spilled: after.spilled - before.spilled,
      };
    },
    stop,
  };
}
