/**
 * One subscription at run time: its backlog, its outstanding leases and its attached consumers,
 * and delivery to them with flow control, acks, nacks and lease expiry. The broker (state.ts)
 * keeps the subscriptions by name and hands each one its topic's messages.
 */
import type { EmulatorError } from './errors';
import { Consumer, byteLength, type ConsumerOptions } from './consumer';
import { MAX_BATCH_MESSAGES } from './limits';
import type { PubsubMessage, ReceivedMessage, Subscription } from './types';

interface Lease {
  message: PubsubMessage;
  /** Epoch ms after which the lease expires and the message is redelivered. */
  deadline: number;
  /** Stream consumer holding the lease (for flow control / close); undefined for Pull. */
  consumer?: Consumer;
}

export class SubscriptionState {
  /** Messages ready for (re)delivery, oldest first. */
  private readonly backlog: PubsubMessage[] = [];
  private readonly leases = new Map<string, Lease>();
  private consumers: Consumer[] = [];

  constructor(
    public config: Subscription,
    private readonly now: () => number,
    /** A new ack id, unique across the broker. */
    private readonly nextAckId: () => string,
  ) {}

  /** Messages published to the topic: delivered to consumers with room, the rest wait. */
  enqueue(messages: readonly PubsubMessage[]): void {
    this.backlog.push(...messages);
    this.dispatch();
  }

  /** Attaches a consumer and hands it whatever backlog flow control allows. */
  attach(options: ConsumerOptions): Consumer {
    const consumer = new Consumer(options);
    this.consumers.push(consumer);
    this.dispatch();
    return consumer;
  }

  /** Detaches a stream; its leases stay until their deadline (see Broker.detach). */
  detach(consumer: Consumer): void {
    this.consumers = this.consumers.filter((c) => c !== consumer);
    for (const lease of this.leases.values()) if (lease.consumer === consumer) lease.consumer = undefined;
    this.dispatch();
  }

  /** Takes up to `maxMessages` ready messages right now, leased with the subscription's deadline. */
  pullNow(maxMessages: number): ReceivedMessage[] {
    return this.backlog.splice(0, maxMessages).map((m) => this.lease(m, this.config.ackDeadlineSeconds));
  }

  /** Acknowledges; unknown or expired ack ids are ignored. */
  acknowledge(ackIds: readonly string[]): void {
    for (const ackId of ackIds) {
      const lease = this.leases.get(ackId);
      if (!lease) continue;
      this.leases.delete(ackId);
      lease.consumer?.give(lease.message);
    }
    this.dispatch();
  }

  /** Extends leases by `seconds`, or with 0 drops them (nacks): those messages go first again. */
  modifyAckDeadline(ackIds: readonly string[], seconds: number): void {
    const nacked: PubsubMessage[] = [];
    for (const ackId of ackIds) {
      const lease = this.leases.get(ackId);
      if (!lease) continue;
      if (seconds === 0) {
        this.leases.delete(ackId);
        lease.consumer?.give(lease.message);
        nacked.push(lease.message);
      } else {
        lease.deadline = this.now() + seconds * 1000;
      }
    }
    this.backlog.unshift(...nacked);
    this.dispatch();
  }

  /** Every consumer is evicted with `error` (the subscription is deleted, or the broker closed). */
  evictAll(error: EmulatorError): void {
    for (const consumer of this.consumers) consumer.evict(error);
    this.consumers = [];
  }

  /** The sweep's tick at `now`: expire leases (their messages go first again), time out Pull waiters. */
  sweep(now: number): void {
    const expired: PubsubMessage[] = [];
    for (const [ackId, lease] of this.leases) {
      if (lease.deadline > now) continue;
      this.leases.delete(ackId);
      lease.consumer?.give(lease.message);
      expired.push(lease.message);
    }
    for (const consumer of this.consumers) {
      if (consumer.options.expiresAt !== undefined && consumer.options.expiresAt <= now) {
        consumer.detached = true;
        consumer.options.deliver([]);
      }
    }
    this.consumers = this.consumers.filter((c) => !c.detached);
    if (expired.length > 0) {
      this.backlog.unshift(...expired);
      this.dispatch();
    }
  }

  private lease(message: PubsubMessage, seconds: number, consumer?: Consumer): ReceivedMessage {
    const ackId = this.nextAckId();
    this.leases.set(ackId, { message, deadline: this.now() + seconds * 1000, consumer });
    consumer?.take(message);
    return { ackId, message, deliveryAttempt: 0 };
  }

  /**
   * Hands backlog to consumers with flow-control room. The consumer list is rotated each time so
   * several streams on one subscription share the load.
   */
  private dispatch(): void {
    if (this.backlog.length === 0 || this.consumers.length === 0) return;
    const first = this.consumers.shift() as Consumer;
    this.consumers.push(first);
    for (const consumer of [...this.consumers]) {
      if (this.backlog.length === 0) break;
      const batch: ReceivedMessage[] = [];
      const perStream = consumer.options.oneShot ? consumer.options.maxOutstandingMessages : MAX_BATCH_MESSAGES;
      while (this.backlog.length > 0 && batch.length < perStream && consumer.hasRoomFor(byteLength(this.backlog[0]))) {
        const message = this.backlog.shift() as PubsubMessage;
        const holder = consumer.options.oneShot ? undefined : consumer;
        batch.push(this.lease(message, consumer.options.ackDeadlineSeconds, holder));
      }
      if (batch.length === 0) continue;
      if (consumer.options.oneShot) {
        consumer.detached = true;
        this.consumers = this.consumers.filter((c) => c !== consumer);
      }
      consumer.options.deliver(batch);
    }
  }
}
