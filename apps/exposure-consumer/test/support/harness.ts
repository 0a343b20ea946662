/** Real Postgres + real Pub/Sub emulator + a running consumer, for the ingest tests. */
import { PubSub, type Topic } from '@google-cloud/pubsub';
import type { ConsumerConfig } from '@herald/config';
import { runAll } from '@herald/http';
import { packEvents, type EventCompression, type OutgoingMessage } from '@herald/pubsub';
import { pubsubClientOptions, startPostgres, startPubSub, type RunningPubSub, type TestPostgres } from '@herald/testing';
import type { ExposureEvent } from '@herald/types';
import { buildConsumer, type Consumer, type ConsumerOptions } from '../../src/app';
import { silentLogger, testConfig } from './fixtures';

export interface Backends {
  postgres: TestPostgres;
  pubsub: RunningPubSub;
  /** A publisher of the test's own, as a gateway would be. */
  publisher: PubSub;
  stop(): Promise<void>;
}

export async function startBackends(): Promise<Backends> {
  const [postgres, pubsub] = await Promise.all([startPostgres(), startPubSub()]);
  const publisher = new PubSub(pubsubClientOptions(pubsub.emulatorHost, pubsub.projectId));
  return {
    postgres,
    pubsub,
    publisher,
    stop: () => runAll([() => publisher.close(), () => pubsub.stop(), () => postgres.stop()]),
  };
}

export function configFor(backends: Backends, overrides: Record<string, string> = {}): ConsumerConfig {
  return testConfig(
    { databaseUrl: backends.postgres.url, emulatorHost: backends.pubsub.emulatorHost, projectId: backends.pubsub.projectId },
    overrides,
  );
}

/** Builds a consumer and starts pulling (which creates the topic and subscription). */
export async function startConsumer(config: ConsumerConfig, opts: Partial<ConsumerOptions> = {}): Promise<Consumer> {
  const consumer = await buildConsumer({ config, logger: silentLogger, ...opts });
  try {
    await consumer.startPulling();
  } catch (err) {
    await consumer.close();
    throw err;
  }
  return consumer;
}

export async function publish(topic: Topic, ...bodies: Array<ExposureEvent | Buffer | string>): Promise<void> {
  await Promise.all(
    bodies.map((body) =>
      topic.publishMessage({ data: Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) }),
    ),
  );
}

/** Publishes exposures packed as gateways pack them, `perMessage` to a message (@herald/pubsub packEvents); returns the messages. */
export async function publishPacked(topic: Topic, events: readonly ExposureEvent[], perMessage: number, compression: EventCompression = 'none'): Promise<OutgoingMessage[]> {
  const messages = packEvents(events.map((e) => ({ data: JSON.stringify(e) })), perMessage, compression);
  await Promise.all(messages.map((m) => topic.publishMessage({ data: Buffer.from(m.data), attributes: m.attributes })));
  return messages;
}
