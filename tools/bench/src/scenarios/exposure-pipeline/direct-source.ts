/** The `direct` source: a publisher process of the bench's own (publisher-process.ts). */
import { join } from 'node:path';
import { forkWorker } from '../live-push/worker-ipc';
import type { Rig } from '../../herald/rig';
import type { PublisherReply, PublisherSetup } from './publisher-protocol';
import type { EventSource } from './source';

const PUBLISHER_MAIN = join(__dirname, 'publisher-process.ts');
/** Users the events name (round-robin), as a gateway with this many online. */
const USERS = 1000;
/** The gateway's defaults (EXPOSURE_BATCH_MAX_MESSAGES / EXPOSURE_BATCH_MAX_MS): the same batches reach the emulator. */
export const DIRECT_BATCHING = Object.freeze({ batchMessages: 500, batchMs: 20 });

export async function startDirectSource(rig: Rig, topic: string, tag: string): Promise<EventSource> {
  const gatewayId = `bench-${tag}-direct`;
  const publisher = forkWorker(PUBLISHER_MAIN, 'direct publisher');
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await publisher.request({ type: 'close' }, 10_000).catch(() => undefined); // stopped below either way
      await publisher.stop();
    })());
  try {
    const setup: PublisherSetup = {
      type: 'setup',
      emulatorHost: rig.pubsub.emulatorHost,
      projectId: rig.pubsub.projectId,
      topic,
      gatewayId,
      userPrefix: `pipe-${tag}-u`,
      users: USERS,
      ...DIRECT_BATCHING,
    };
    await publisher.request(setup);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    kind: 'direct',
    gatewayId,
    cpuGroups: { source: [publisher.pid] },
    async run(rate, seconds, _signal, progress) {
      const reply = await publisher.request<PublisherReply>({ type: 'run', rate, seconds }, (seconds + 120) * 1000);
      if (reply.failed > 0) progress(`publisher: ${reply.failed} publishes failed, the first: ${reply.firstError}`);
      return {
        events: reply.events,
        published: reply.published,
        failed: reply.failed,
        sent: reply.events,
        senderLagMs: reply.maxLagMs,
        spilled: null,
      };
    },
    stop,
  };
}
