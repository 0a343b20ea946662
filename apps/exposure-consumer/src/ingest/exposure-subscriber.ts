/**
 * Streaming pull from the exposure subscription into Postgres: the pull's lifecycle here, the
 * batching and writing in batch-writer.ts, the parsing in parse-event.ts.
 *
 * - The pull is @herald/pubsub's StreamPuller (streaming pull without the client library's
 *   per-message bookkeeping). Flow control bounds what we hold: the events of unacknowledged
 *   messages, at most `maxOutstanding` (and one message past it), which also bounds the batch
 *   buffer. Leases are extended while a message waits.
 * - A message holds one event, or several of one kind, one per line (attribute `events`;
 *   @herald/pubsub event-messages.ts).
 * - Each event is parsed by its kind (exposures as the Contract's shape, and the other events of
 *   libs/types events.ts). One that is none (a poison message, an unknown kind) is stored in
 *   `dead_letters` with the reason and then acknowledged, so it is neither lost nor redelivered
 *   forever; so is a message whose lines do not match its `events`. Valid events of every kind go
 *   to the same buffer; a message is acknowledged once the batches holding its events committed.
 * - The pull does not stop silently. On a status the puller does not retry (NOT_FOUND when the
 *   subscription was deleted, PERMISSION_DENIED) it closes the subscription; we then report no
 *   pull (`pulling` is false: /readyz 503, herald_consumer_pulling 0) and reopen it with an
 *   exponential backoff, creating the topic and subscription again if they are gone.
 * - close() stops the stream, writes what is buffered, acknowledges it and closes; idempotent.
 */
import type { PubSub } from '@google-cloud/pubsub';
import type { Logger } from '@herald/logger';
import { ensureSubscription, eventCount, StreamPuller, unpackEvents, type PulledMessage } from '@herald/pubsub';
import type { ExposureSink } from '../db/event-writer';
import type { ConsumerMetrics } from '../metrics';
import { BatchWriter } from './batch-writer';
import { parseEvent } from './parse-event';
import { SharedMessage } from './shared-message';

export interface ExposureSubscriberOptions {
  pubsub: PubSub;
  /** The topic the subscription is on; created with it when either is missing. */
  topicName: string;
  /** The subscription; created (with `ackDeadlineSeconds`) when it does not exist. */
  subscriptionName: string;
  sink: ExposureSink;
  metrics: ConsumerMetrics;
  logger: Logger;
  /** Write a batch once this many events wait (CONSUMER_BATCH_MAX). */
  batchMax: number;
  /** ...or once the first waiting event is this old (CONSUMER_BATCH_MAX_MS). */
  batchMaxMs: number;
  /** Events of unacknowledged messages held at most (CONSUMER_MAX_OUTSTANDING). */
  maxOutstanding: number;
  /** Batches written at the same time (CONSUMER_WRITE_CONCURRENCY). @default 1 */
  writeConcurrency?: number;
  /** Streaming-pull streams (CONSUMER_STREAMS). */
  streams: number;
  /** Lease per delivery, extended while a message waits (CONSUMER_ACK_DEADLINE_SECONDS). */
  ackDeadlineSeconds: number;
  /** Pause after the first failed write; doubles with each failure in a row. @default 100 */
  retryInitialMs?: number;
  /** Longest pause between failed writes. @default 10000 */
  retryMaxMs?: number;
  /** How long close() lets outstanding messages finish before nacking them. @default 10000 */
  closeTimeoutMs?: number;
  /** Pause before the first attempt to reopen a pull that stopped; doubles per failure. @default 1000 */
  reopenInitialMs?: number;
  /** Longest pause between attempts to reopen; a pull that ran this long resets the backoff. @default 30000 */
  reopenMaxMs?: number;
}

const IDLE = 0;
const RUNNING = 1;
const CLOSING = 2;
const CLOSED = 3;

export class ExposureSubscriber {
  private state = IDLE;
  private subscription?: StreamPuller;
  private readonly writer: BatchWriter;
  private closing?: Promise<void>;
  private reopenTimer?: NodeJS.Timeout;
  private reopenFailures = 0;
  private openedAt = 0;
  private readonly log: Logger;
  private readonly reopenInitialMs: number;
  private readonly reopenMaxMs: number;

  constructor(private readonly opts: ExposureSubscriberOptions) {
    for (const name of ['batchMax', 'batchMaxMs', 'maxOutstanding', 'ackDeadlineSeconds'] as const) {
      if (!Number.isInteger(opts[name]) || opts[name] < 1) throw new TypeError(`ExposureSubscriber: ${name} must be a positive integer`);
    }
    this.log = opts.logger.child({ module: 'exposure-subscriber' });
    this.writer = new BatchWriter(opts);
    this.reopenInitialMs = opts.reopenInitialMs ?? 1000;
    this.reopenMaxMs = opts.reopenMaxMs ?? 30_000;
  }

  /** True while a streaming pull is open: started, not closing, and not stopped by the server. */
  get pulling(): boolean {
    return this.state === RUNNING && this.subscription?.isOpen === true;
  }

  /** Creates the topic and subscription unless they exist, then opens the streaming pull. */
  async start(): Promise<void> {
    if (this.state !== IDLE) throw new Error('ExposureSubscriber.start() may be called once');
    this.state = RUNNING;
    await this.open();
    this.log.info({ subscription: this.opts.subscriptionName }, 'pulling exposure events');
  }

  private async open(): Promise<void> {
    const { pubsub, topicName, subscriptionName, ackDeadlineSeconds } = this.opts;
    await ensureSubscription(pubsub, topicName, subscriptionName, ackDeadlineSeconds);
    // close() may have been called while the subscription was being created.
    if (this.state !== RUNNING) return;
    const subscription = new StreamPuller(pubsub, subscriptionName, {
      streams: this.opts.streams,
      maxOutstanding: this.opts.maxOutstanding,
      weigh: eventCount,
      ackDeadlineSeconds,
    });
    subscription.on('message', (message: PulledMessage) => this.onMessage(message));
    // Transient stream errors are retried by the puller; what reaches us needs an operator.
    subscription.on('error', (err: Error) => this.log.error({ err }, 'exposure subscription failed'));
    subscription.on('debug', (err: Error) => this.log.debug({ err }, 'exposure subscription'));
    subscription.on('close', () => this.onClosed(subscription));
    this.subscription = subscription;
    this.openedAt = Date.now();
    await subscription.open();
  }

  /** The client closed the subscription by itself (a status it does not retry): reopen it, later. */
  private onClosed(subscription: StreamPuller): void {
    if (subscription !== this.subscription || this.state !== RUNNING) return;
    subscription.removeAllListeners('message');
    // Its held messages are still settled through it; then its channel closes.
    void subscription.close(this.opts.closeTimeoutMs ?? 10_000);
    // A pull that ran for a while was healthy: its end starts the backoff afresh.
    if (Date.now() - this.openedAt >= this.reopenMaxMs) this.reopenFailures = 0;
    this.log.error(
      { subscription: this.opts.subscriptionName, retryInMs: this.reopenDelay() },
      'the streaming pull stopped (see the error above); no exposure is pulled until it is reopened',
    );
    this.scheduleReopen();
  }

  private reopenDelay(): number {
    return Math.min(this.reopenMaxMs, this.reopenInitialMs * 2 ** this.reopenFailures);
  }

  private scheduleReopen(): void {
    const delay = this.reopenDelay();
    this.reopenFailures += 1;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      void this.reopen();
    }, delay);
  }

  private async reopen(): Promise<void> {
    if (this.state !== RUNNING) return;
    try {
      await this.open();
    } catch (err) {
      if (this.state !== RUNNING) return;
      this.log.error({ err, retryInMs: this.reopenDelay() }, 'reopening the exposure subscription failed; trying again');
      this.scheduleReopen();
      return;
    }
    if (this.state !== RUNNING) return;
    this.opts.metrics.reopens.inc();
    this.log.warn({ subscription: this.opts.subscriptionName }, 'streaming pull reopened');
  }

  /** Stops pulling, writes and acknowledges what is buffered, closes the stream. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const wasRunning = this.state === RUNNING;
    this.state = CLOSING;
    clearTimeout(this.reopenTimer);
    if (!wasRunning || !this.subscription) {
      this.state = CLOSED;
      return;
    }
    // Destroys the stream at once; then waits (up to closeTimeoutMs) for held messages to be settled.
    const closed = this.subscription.close(this.opts.closeTimeoutMs ?? 10_000);
    try {
      await this.writer.drain();
      await closed;
    } finally {
      // The error listener stays: a late stream error must be logged, not thrown as unhandled.
      this.subscription.removeAllListeners('message');
      this.state = CLOSED;
      this.log.info('exposure subscriber closed');
    }
  }

  private onMessage(message: PulledMessage): void {
    this.opts.metrics.received.inc(eventCount(message.attributes));
    if (this.state !== RUNNING) {
      message.nack();
      return;
    }
    const unpacked = unpackEvents(message.data, message.attributes);
    if (!unpacked.ok) {
      this.writer.deadLetter(message, message.data, unpacked.reason);
      return;
    }
    const { events } = unpacked;
    const settle = events.length === 1 ? message : new SharedMessage(message, events.length);
    for (const data of events) {
      const parsed = parseEvent(data, message.attributes);
      if (parsed.ok) this.writer.add(settle, parsed.event);
      else this.writer.deadLetter(settle, data, parsed.reason);
    }
  }
}
