/**
 * What api-push runs behind Herald's gateway, as `npm run dev` starts it: ingest (the rig's, its
 * events relayed to the gateway's topic), a Postgres of its own (@herald/testing startPostgres)
 * and an exposure-consumer storing that topic into it (started first: its subscription exists
 * before anything is published); the producer processes (workers/api-producer.ts) and the wait
 * until the consumer has stored what the gateway delivered.
 */
import { startPostgres } from '@herald/testing';
import { sampleConsumer } from '../../metrics';
import { findPids, treeCpuSecondsOf, withCommand } from '../../procs';
import type { AppProcess, Rig } from '../../rig';
import { watch } from '../../watch';
import type { ApiProducerSetup } from '../../workers/api-producer';

/** The producer's batches: items per request at most, and how long the first item waits for more. */
export type BatchSettings = { batchSize: number; batchMs: number; connections: number };

export async function startStack(rig: Rig, topic: string) {
  const postgres = rig.own(await startPostgres(), (p) => p.stop());
  const { emulator } = await rig.pubsub();
  const [consumer, ingest] = await Promise.all([
    rig.startApp('exposure-consumer', {
      PUBSUB_EMULATOR_HOST: emulator.emulatorHost,
      PUBSUB_PROJECT_ID: emulator.projectId,
      EXPOSURE_TOPIC: topic,
      EXPOSURE_SUBSCRIPTION: `${topic}-consumer`,
      DATABASE_URL: postgres.url,
    }),
    rig.ingest(topic),
  ]);
  // The embedded cluster (launcher and postmaster, found by its port) and its backends; none on a shared server.
  const postgresRoots = postgres.restartable ? withCommand(findPids(new URL(postgres.url).port), 'postgres') : [];
  return {
    ingest,
    consumer,
    postgresKind: postgres.restartable ? 'embedded (@herald/testing)' : 'DATABASE_URL server',
    /** CPU groups of the stack's own processes (the gateway is the measured server). */
    cpuGroups: { ingest: [ingest.pid], consumer: [consumer.pid], postgres: () => treeCpuSecondsOf(postgresRoots) },
    stored: async () => (await storedCounts(consumer)).exposures,
    counts: () => storedCounts(consumer),
  };
}

/**
 * From one scrape of the consumer: the exposures it has stored so far (inserted, or found stored
 * already), and the events of every kind it has written (exposures, and ingest's `sent` records).
 */
async function storedCounts(consumer: AppProcess): Promise<{ exposures: number; events: number }> {
  const sample = await sampleConsumer(consumer.adminUrl);
  return { exposures: sample.inserted + sample.duplicates, events: sample.events };
}

/** Until the consumer has stored `count` exposures, or that stops moving for `stallMs`; what it stored. */
export async function untilStored(stored: () => Promise<number>, count: number, signal: AbortSignal, stallMs = 10_000): Promise<number> {
  let now = 0;
  await watch(async () => ((now = await stored()), { done: now >= count, progress: now, line: `consumer: ${now}/${count} stored` }), { intervalMs: 100, stallMs, signal });
  return now;
}

/** Fail before measuring when this ingest has no batch endpoint (an empty batch is refused with 400 by one that has). */
export async function checkBatchEndpoint(ingestUrl: string, token: string): Promise<void> {
  const res = await fetch(`${ingestUrl}/v1/messages/batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: '{"messages":[]}',
  });
  await res.arrayBuffer();
  if (res.status === 404) {
    throw new Error('--mode batch: ingest answered 404 to POST /v1/messages/batch, so this build has no batch endpoint; run with --mode single');
  }
}

/** An api-producer process (workers/api-producer.ts) for `mode`. */
export function startApiProducer(rig: Rig, ingestUrl: string, mode: 'single' | 'batch', userIds: string[], ttlSeconds: number, batches: BatchSettings) {
  const setup: ApiProducerSetup = { type: 'setup', ingestUrl, token: rig.producerToken, userIds, ttlSeconds, mode, ...batches };
  return rig.startSender(`${mode} producer`, setup, 'api-producer');
}
