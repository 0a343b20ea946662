/**
 * The emulator's state: topics and subscriptions by name, and publishing to a topic's
 * subscriptions. One subscription's delivery (backlog, leases, flow control) is in
 * subscription.ts; what a consumer is, in consumer.ts; Cloud Pub/Sub's limits, in limits.ts.
 */
import { randomBytes } from 'node:crypto';
import { EmulatorError, ErrorReason } from './errors';
import type { Consumer, ConsumerOptions } from './consumer';
import {
  assertAckDeadline,
  DEFAULT_ACK_DEADLINE_SECONDS,
  DEFAULT_RETENTION_SECONDS,
  DELETED_TOPIC,
  MAX_ACK_DEADLINE_SECONDS,
  MAX_MESSAGES_PER_PUBLISH,
} from './limits';
import { parseResourceName } from './names';
import { SubscriptionState } from './subscription';
import type { PubsubMessage, ReceivedMessage, Subscription, Timestamp, Topic } from './types';

/**
 * How often the single shared sweep looks for expired leases and timed-out
 * Pull waiters. One timer for the whole broker (not one per message) keeps the
 * cost flat; 100 ms precision is plenty for deadlines measured in seconds.
 */
export const SWEEP_INTERVAL_MS = 100;

function timestampFromMs(ms: number): Timestamp {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

/**
 * In-memory topics, subscriptions and messages; the single source of truth the
 * gRPC services are thin adapters over. Everything is synchronous, so there are
 * no interleavings to reason about inside a single operation.
 */
export class Broker {
  private readonly topics = new Map<string, Topic>();
  private readonly subscriptions = new Map<string, SubscriptionState>();
  /**
   * Message ids are numeric strings (like Google's emulator) seeded from the
   * clock so that ids stay unique across emulator restarts: consumers that
   * de-duplicate by message id must not see a restarted emulator reuse ids.
   */
  private nextMessageId = Date.now() * 1000;
  /** Ack ids embed a per-instance nonce so a restarted emulator never honours stale ids. */
  private readonly ackIdPrefix = randomBytes(4).toString('hex');
  private nextAckSeq = 0;
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  // ---- topics -----------------------------------------------------------

  createTopic(request: Topic): Topic {
    parseResourceName(request.name, 'topics');
    if (this.topics.has(request.name)) {
      throw new EmulatorError(ErrorReason.TopicExists, `Topic already exists: ${request.name}`);
    }
    const topic: Topic = { ...request, labels: request.labels ?? {} };
    this.topics.set(topic.name, topic);
    return topic;
  }

  getTopic(name: string): Topic {
    parseResourceName(name, 'topics');
    const topic = this.topics.get(name);
    if (!topic) throw new EmulatorError(ErrorReason.TopicNotFound, `Topic not found: ${name}`);
    return topic;
  }

  /** Deletes a topic; its subscriptions survive, detached, as in Cloud Pub/Sub. */
  deleteTopic(name: string): void {
    this.getTopic(name);
    this.topics.delete(name);
    for (const sub of this.subscriptions.values()) {
      if (sub.config.topic === name) sub.config = { ...sub.config, topic: DELETED_TOPIC };
    }
  }

  listTopics(project: string): Topic[] {
    const prefix = `projects/${project}/topics/`;
    return [...this.topics.values()].filter((t) => t.name.startsWith(prefix));
  }

  listTopicSubscriptions(topicName: string): string[] {
    this.getTopic(topicName);
    return [...this.subscriptions.values()].filter((s) => s.config.topic === topicName).map((s) => s.config.name);
  }

  /**
   * Stores messages and fans them out to every subscription attached to the
   * topic right now (later subscriptions do not see them).
   */
  publish(topicName: string, messages: Array<Partial<PubsubMessage>>): string[] {
    this.getTopic(topicName);
    if (messages.length === 0) {
      throw new EmulatorError(ErrorReason.InvalidArgument, 'Publish requires at least one message');
    }
    if (messages.length > MAX_MESSAGES_PER_PUBLISH) {
      // As Pub/Sub (and Google's emulator) refuse it.
      throw new EmulatorError(ErrorReason.InvalidArgument, `A publish call takes at most ${MAX_MESSAGES_PER_PUBLISH} messages`);
    }
    const publishTime = timestampFromMs(this.now());
    const stored = messages.map((m): PubsubMessage => {
      const data = m.data ?? Buffer.alloc(0);
      const attributes = m.attributes ?? {};
      if (data.length === 0 && Object.keys(attributes).length === 0) {
        throw new EmulatorError(ErrorReason.InvalidArgument, 'A message needs non-empty data or at least one attribute');
      }
      return {
        data,
        attributes,
        messageId: String(this.nextMessageId++),
        publishTime,
        orderingKey: m.orderingKey ?? '',
      };
    });
    for (const sub of this.subscriptions.values()) {
      if (sub.config.topic === topicName) sub.enqueue(stored);
    }
    return stored.map((m) => m.messageId);
  }

  // ---- subscriptions ----------------------------------------------------

  createSubscription(request: Subscription): Subscription {
    parseResourceName(request.name, 'subscriptions');
    parseResourceName(request.topic, 'topics');
    if (this.subscriptions.has(request.name)) {
      throw new EmulatorError(ErrorReason.SubscriptionExists, `Subscription already exists: ${request.name}`);
    }
    if (!this.topics.has(request.topic)) {
      throw new EmulatorError(ErrorReason.TopicNotFound, `Subscription topic does not exist: ${request.topic}`);
    }
    const ackDeadlineSeconds = request.ackDeadlineSeconds || DEFAULT_ACK_DEADLINE_SECONDS;
    assertAckDeadline(ackDeadlineSeconds);
    const config: Subscription = {
      ...request,
      ackDeadlineSeconds,
      labels: request.labels ?? {},
      messageRetentionDuration: request.messageRetentionDuration ?? { seconds: DEFAULT_RETENTION_SECONDS, nanos: 0 },
    };
    this.subscriptions.set(config.name, new SubscriptionState(config, this.now, () => `${this.ackIdPrefix}-${++this.nextAckSeq}`));
    return config;
  }

  getSubscription(name: string): Subscription {
    return this.subscriptionState(name).config;
  }

  deleteSubscription(name: string): void {
    const sub = this.subscriptionState(name);
    this.subscriptions.delete(name);
    sub.evictAll(new EmulatorError(ErrorReason.SubscriptionNotFound, `Subscription deleted: ${name}`));
  }

  listSubscriptions(project: string): Subscription[] {
    const prefix = `projects/${project}/subscriptions/`;
    return [...this.subscriptions.values()].map((s) => s.config).filter((c) => c.name.startsWith(prefix));
  }

  // ---- delivery ---------------------------------------------------------

  /**
   * Attaches a consumer (stream or Pull waiter) and immediately hands it
   * whatever backlog flow control allows. Returns it so the caller can detach.
   */
  attach(subscriptionName: string, options: ConsumerOptions): Consumer {
    return this.subscriptionState(subscriptionName).attach(options);
  }

  /**
   * Detaches a stream. Its leases stay until their deadline, as in Cloud Pub/Sub: the client
   * library closes the stream first and sends its last acks afterwards (unary Acknowledge), and
   * those acks must still count. What is not acked comes back when the lease expires.
   */
  detach(subscriptionName: string, consumer: Consumer): void {
    if (consumer.detached) return;
    consumer.detached = true;
    this.subscriptions.get(subscriptionName)?.detach(consumer);
  }

  /** Takes up to `maxMessages` ready messages right now, leased with the subscription's deadline. */
  pullNow(subscriptionName: string, maxMessages: number): ReceivedMessage[] {
    return this.subscriptionState(subscriptionName).pullNow(maxMessages);
  }

  /** Acknowledges; unknown or expired ack ids are ignored, as in Cloud Pub/Sub without exactly-once. */
  acknowledge(subscriptionName: string, ackIds: string[]): void {
    this.subscriptionState(subscriptionName).acknowledge(ackIds);
  }

  /** Extends (or, with 0 seconds, drops = nacks) leases. */
  modifyAckDeadline(subscriptionName: string, ackIds: string[], seconds: number): void {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_ACK_DEADLINE_SECONDS) {
      throw new EmulatorError(
        ErrorReason.InvalidArgument,
        `ack deadline must be between 0 and ${MAX_ACK_DEADLINE_SECONDS} seconds, got ${seconds}`,
      );
    }
    this.subscriptionState(subscriptionName).modifyAckDeadline(ackIds, seconds);
  }

  /** Stops the sweep and evicts every consumer. The broker is unusable afterwards. */
  close(error: EmulatorError): void {
    clearInterval(this.sweepTimer);
    for (const sub of this.subscriptions.values()) sub.evictAll(error);
  }

  // ---- internals --------------------------------------------------------

  private subscriptionState(name: string): SubscriptionState {
    parseResourceName(name, 'subscriptions');
    const sub = this.subscriptions.get(name);
    if (!sub) throw new EmulatorError(ErrorReason.SubscriptionNotFound, `Subscription does not exist: ${name}`);
    return sub;
  }

  /**
   * The shared timer's tick: expire leases, time out Pull waiters, redeliver.
   * Public so unit tests can drive it with an injected clock.
   */
  sweep(): void {
    const now = this.now();
    for (const sub of this.subscriptions.values()) sub.sweep(now);
  }
}
