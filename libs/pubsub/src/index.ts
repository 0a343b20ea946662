/**
 * The one way Herald builds a Pub/Sub client: Google Cloud by default, an emulator (Google's or
 * ours in tools/pubsub-emulator) when PUBSUB_EMULATOR_HOST is configured. The address is passed
 * explicitly, never picked up from the process environment by the library.
 */
import { PubSub, type ClientConfig, type Topic, type Subscription } from '@google-cloud/pubsub';

/** gRPC status ALREADY_EXISTS. */
const ALREADY_EXISTS = 6;

export interface PubSubSettings {
  PUBSUB_PROJECT_ID: string;
  PUBSUB_EMULATOR_HOST?: string;
}

export function pubsubClientOptions(settings: PubSubSettings): ClientConfig {
  const options: ClientConfig = { projectId: settings.PUBSUB_PROJECT_ID };
  if (settings.PUBSUB_EMULATOR_HOST) {
    options.apiEndpoint = settings.PUBSUB_EMULATOR_HOST;
    options.emulatorMode = true;
  }
  return options;
}

export function createPubSub(settings: PubSubSettings): PubSub {
  return new PubSub(pubsubClientOptions(settings));
}

/** Create the topic unless it exists. */
export async function ensureTopic(pubsub: PubSub, name: string): Promise<Topic> {
  const topic = pubsub.topic(name);
  try {
    await topic.create();
  } catch (err) {
    if ((err as { code?: number }).code !== ALREADY_EXISTS) throw err;
  }
  return topic;
}

/** Create the topic and the subscription unless they exist. */
export async function ensureSubscription(
  pubsub: PubSub,
  topicName: string,
  name: string,
  ackDeadlineSeconds: number,
): Promise<Subscription> {
  const topic = await ensureTopic(pubsub, topicName);
  const subscription = topic.subscription(name);
  try {
    await subscription.create({ ackDeadlineSeconds });
  } catch (err) {
    if ((err as { code?: number }).code !== ALREADY_EXISTS) throw err;
  }
  return subscription;
}
export { perUserEventId } from './event-id';
export { BatchPublisher, encodePublishRequest, countMessageIds, PUBLISH_CALLS_MAX, PUBLISH_DEADLINE_MS, PUBLISH_MAX_MESSAGES, type OutgoingMessage } from './batch-publisher';
export { COMPRESS_MIN_BYTES, EVENT_COUNT_ATTRIBUTE, EVENT_ENCODING_ATTRIBUTE, EVENTS_MESSAGE_MAX_CHARS, EVENTS_PER_MESSAGE_MAX, INFLATED_MAX_BYTES, eventCount, packEvents, unpackEvents, type EventCompression, type OutgoingEvent, type UnpackedEvents } from './event-messages';
export { StreamPuller, type PulledMessage, type StreamPullerOptions } from './stream-puller';
