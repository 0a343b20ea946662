import { randomBytes } from 'node:crypto';
import { EmulatorError, ErrorReason } from './errors';
import { parseResourceName } from './names';
import type { PubsubMessage, ReceivedMessage, Subscription, Timestamp, Topic } from './types';

/** Pub/Sub's limit of messages per publish call. */
const MAX_MESSAGES_PER_PUBLISH = 1000;

/** Cloud Pub/Sub's default ack deadline when a subscription does not set one. */
export const DEFAULT_ACK_DEADLINE_SECONDS = 10;
/** Cloud Pub/Sub's accepted ack-deadline range for subscriptions and streams. */
export const MIN_ACK_DEADLINE_SECONDS = 10;
export const MAX_ACK_DEADLINE_SECONDS = 600;
/** Default message retention reported by GetSubscription (7 days, like Cloud Pub/Sub). */
const DEFAULT_RETENTION_SECONDS = 7 * 24 * 3600;
/** Topic name Cloud Pub/Sub reports on subscriptions whose topic was deleted. */
export const DELETED_TOPIC = '_deleted-topic_';
/** Most messages sent in one StreamingPullResponse / delivered in one go. */
const MAX_BATCH_MESSAGES = 1000;

/**
 * How often the single shared sweep looks for expired leases and timed-out
 * Pull waiters. One timer for the whole broker (not one per message) keeps the
 * cost flat; 100 ms precision is plenty for deadlines measured in seconds.
 */
export const SWEEP_INTERVAL_MS = 100;

/**
 * Someone messages can be leased to: an open StreamingPull stream (long-lived,
 * flow controlled) or a single waiting Pull call (one-shot).
 */
export interface ConsumerOptions {
  /** Lease length for messages delivered to this consumer. */
  ackDeadlineSeconds: number;
  /**
   * Flow control: max unacked messages leased to this consumer; 0 = unlimited.
   * For a one-shot Pull waiter it is the Pull's max_messages (its batch size).
   */
  maxOutstandingMessages: number;
  /** Flow control: max unacked bytes leased to this consumer; 0 = unlimited. */
  maxOutstandingBytes: number;
  /** Pull waiters take one batch and leave; their leases are not flow-controlled. */
  oneShot: boolean;
  /** For one-shot waiters: when to give up and deliver an empty batch (epoch ms). */
  expiresAt?: number;
  deliver(messages: ReceivedMessage[]): void;
  /** Called when the consumer is evicted (subscription deleted, broker closed). */
  evict?(error: EmulatorError): void;
}

export class Consumer {
  outstandingMessages = 0;
  outstandingBytes = 0;
  detached = false;

  constructor(readonly options: ConsumerOptions) {}

  /** Flow control check. Always admits one message so a huge message cannot wedge a stream. */
  hasRoomFor(bytes: number): boolean {
    const { maxOutstandingMessages, maxOutstandingBytes } = this.options;
    if (maxOutstandingMessages > 0 && this.outstandingMessages >= maxOutstandingMessages) return false;
    if (maxOutstandingBytes > 0 && this.outstandingMessages > 0 && this.outstandingBytes + bytes > maxOutstandingBytes) {
      return false;
    }
    return true;
  }
}

interface Lease {
  message: PubsubMessage;
  /** Epoch ms after which the lease expires and the message is redelivered. */
  deadline: number;
  /** Stream consumer holding the lease (for flow control / close); undefined for Pull. */
  consumer?: Consumer;
}

/** Runtime state of one subscription: its backlog, outstanding leases and attached consumers. */
class SubscriptionState {
  /** Messages ready for (re)delivery, oldest first. */
  readonly backlog: PubsubMessage[] = [];
  readonly leases = new Map<string, Lease>();
  consumers: Consumer[] = [];

  constructor(public config: Subscription) {}
}

const byteLength = (message: PubsubMessage): number => message.data?.length ?? 0;

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
      if (sub.config.topic !== topicName) continue;
      sub.backlog.push(...stored);
      this.dispatch(sub);
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
    this.subscriptions.set(config.name, new SubscriptionState(config));
    return config;
  }

  getSubscription(name: string): Subscription {
    return this.subscriptionState(name).config;
  }

  deleteSubscription(name: string): void {
    const sub = this.subscriptionState(name);
    this.subscriptions.delete(name);
    const error = new EmulatorError(ErrorReason.SubscriptionNotFound, `Subscription deleted: ${name}`);
    for (const consumer of sub.consumers) {
      consumer.detached = true;
      consumer.options.evict?.(error);
    }
    sub.consumers = [];
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
    const sub = this.subscriptionState(subscriptionName);
    const consumer = new Consumer(options);
    sub.consumers.push(consumer);
    this.dispatch(sub);
    return consumer;
  }

  /**
   * Detaches a stream. Its leases stay until their deadline, as in Cloud Pub/Sub: the client
   * library closes the stream first and sends its last acks afterwards (unary Acknowledge), and
   * those acks must still count. What is not acked comes back when the lease expires.
   */
  detach(subscriptionName: string, consumer: Consumer): void {
    if (consumer.detached) return;
    consumer.detached = true;
    const sub = this.subscriptions.get(subscriptionName);
    if (!sub) return;
    sub.consumers = sub.consumers.filter((c) => c !== consumer);
    for (const lease of sub.leases.values()) if (lease.consumer === consumer) lease.consumer = undefined;
    this.dispatch(sub);
  }

  /** Takes up to `maxMessages` ready messages right now, leased with the subscription's deadline. */
  pullNow(subscriptionName: string, maxMessages: number): ReceivedMessage[] {
    const sub = this.subscriptionState(subscriptionName);
    const batch = sub.backlog.splice(0, maxMessages);
    return batch.map((m) => this.lease(sub, m, sub.config.ackDeadlineSeconds));
  }

  /** Acknowledges; unknown or expired ack ids are ignored, as in Cloud Pub/Sub without exactly-once. */
  acknowledge(subscriptionName: string, ackIds: string[]): void {
    const sub = this.subscriptionState(subscriptionName);
    for (const ackId of ackIds) {
      const lease = sub.leases.get(ackId);
      if (!lease) continue;
      sub.leases.delete(ackId);
      this.release(lease);
    }
    this.dispatch(sub);
  }

  /** Extends (or, with 0 seconds, drops = nacks) leases. */
  modifyAckDeadline(subscriptionName: string, ackIds: string[], seconds: number): void {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_ACK_DEADLINE_SECONDS) {
      throw new EmulatorError(
        ErrorReason.InvalidArgument,
        `ack deadline must be between 0 and ${MAX_ACK_DEADLINE_SECONDS} seconds, got ${seconds}`,
      );
    }
    const sub = this.subscriptionState(subscriptionName);
    const nacked: PubsubMessage[] = [];
    for (const ackId of ackIds) {
      const lease = sub.leases.get(ackId);
      if (!lease) continue;
      if (seconds === 0) {
        sub.leases.delete(ackId);
        this.release(lease);
        nacked.push(lease.message);
      } else {
        lease.deadline = this.now() + seconds * 1000;
      }
    }
    sub.backlog.unshift(...nacked);
    this.dispatch(sub);
  }

  /** Stops the sweep and evicts every consumer. The broker is unusable afterwards. */
  close(error: EmulatorError): void {
    clearInterval(this.sweepTimer);
    for (const sub of this.subscriptions.values()) {
      for (const consumer of sub.consumers) {
        consumer.detached = true;
        consumer.options.evict?.(error);
      }
      sub.consumers = [];
    }
  }

  // ---- internals --------------------------------------------------------

  private subscriptionState(name: string): SubscriptionState {
    parseResourceName(name, 'subscriptions');
    const sub = this.subscriptions.get(name);
    if (!sub) throw new EmulatorError(ErrorReason.SubscriptionNotFound, `Subscription does not exist: ${name}`);
    return sub;
  }

  private lease(sub: SubscriptionState, message: PubsubMessage, seconds: number, consumer?: Consumer): ReceivedMessage {
    const ackId = `${this.ackIdPrefix}-${++this.nextAckSeq}`;
    sub.leases.set(ackId, { message, deadline: this.now() + seconds * 1000, consumer });
    if (consumer) {
      consumer.outstandingMessages += 1;
      consumer.outstandingBytes += byteLength(message);
    }
    return { ackId, message, deliveryAttempt: 0 };
  }

  /** Returns a lease's flow-control budget to its stream. */
  private release(lease: Lease): void {
    if (!lease.consumer) return;
    lease.consumer.outstandingMessages -= 1;
    lease.consumer.outstandingBytes -= byteLength(lease.message);
  }

  /**
   * Hands backlog to consumers with flow-control room. The consumer list is
   * rotated each time so several streams on one subscription share the load.
   */
  private dispatch(sub: SubscriptionState): void {
    if (sub.backlog.length === 0 || sub.consumers.length === 0) return;
    const first = sub.consumers.shift() as Consumer;
    sub.consumers.push(first);
    for (const consumer of [...sub.consumers]) {
      if (sub.backlog.length === 0) break;
      const batch: ReceivedMessage[] = [];
      const perStream = consumer.options.oneShot ? consumer.options.maxOutstandingMessages : MAX_BATCH_MESSAGES;
      while (sub.backlog.length > 0 && batch.length < perStream && consumer.hasRoomFor(byteLength(sub.backlog[0]))) {
        const message = sub.backlog.shift() as PubsubMessage;
        const holder = consumer.options.oneShot ? undefined : consumer;
        batch.push(this.lease(sub, message, consumer.options.ackDeadlineSeconds, holder));
      }
      if (batch.length === 0) continue;
      if (consumer.options.oneShot) {
        consumer.detached = true;
        sub.consumers = sub.consumers.filter((c) => c !== consumer);
      }
      consumer.options.deliver(batch);
    }
  }

  /**
   * The shared timer's tick: expire leases, time out Pull waiters, redeliver.
   * Public so unit tests can drive it with an injected clock.
   */
  sweep(): void {
    const now = this.now();
    for (const sub of this.subscriptions.values()) {
      const expired: PubsubMessage[] = [];
      for (const [ackId, lease] of sub.leases) {
        if (lease.deadline > now) continue;
        sub.leases.delete(ackId);
        this.release(lease);
        expired.push(lease.message);
      }
      for (const consumer of sub.consumers) {
        if (consumer.options.expiresAt !== undefined && consumer.options.expiresAt <= now) {
          consumer.detached = true;
          consumer.options.deliver([]);
        }
      }
      sub.consumers = sub.consumers.filter((c) => !c.detached);
      if (expired.length > 0) {
        sub.backlog.unshift(...expired);
        this.dispatch(sub);
      }
    }
  }
}

/** Rejects ack deadlines outside Cloud Pub/Sub's accepted range. */
export function assertAckDeadline(seconds: number): void {
  if (!Number.isInteger(seconds) || seconds < MIN_ACK_DEADLINE_SECONDS || seconds > MAX_ACK_DEADLINE_SECONDS) {
    throw new EmulatorError(
      ErrorReason.InvalidArgument,
      `ack deadline must be between ${MIN_ACK_DEADLINE_SECONDS} and ${MAX_ACK_DEADLINE_SECONDS} seconds, got ${seconds}`,
    );
  }
}
