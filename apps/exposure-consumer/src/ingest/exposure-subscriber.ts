/**
 * Streaming pull from the exposure subscription into Postgres, in batches.
 *
 * - Flow control bounds what we hold: at most `maxOutstanding` unacknowledged messages, which also
 *   bounds the batch buffer. Leases are extended by the client while a message waits.
 * - Each message is parsed against the Contract's exposure event shape. A message that is not one
 *   (a poison message) is stored in `dead_letters` with the reason and then acknowledged, so it is
 *   neither lost nor redelivered forever.
 * - Valid events are buffered and written when `batchMax` are waiting or `batchMaxMs` has passed
 *   since the first, in one insert that skips stored event ids; up to `writeConcurrency` batches
 *   are written at once (order does not matter: every row is keyed by its event id).
 * - A message is acknowledged only after the batch holding it committed. When the write fails the
 *   batch is nacked (Pub/Sub redelivers it, here or to another replica) and writing pauses with an
 *   exponential backoff, so a database outage is not turned into a hot loop.
 * - The pull does not stop silently. On a status the client does not retry (NOT_FOUND when the
 *   subscription was deleted, PERMISSION_DENIED) it closes the subscription; we then report no
 *   pull (`pulling` is false: /readyz 503, herald_consumer_pulling 0) and reopen it with an
 *   exponential backoff, creating the topic and subscription again if they are gone.
 * - close() stops the stream, writes what is buffered, acknowledges it and closes; idempotent.
 *
 * Why one file past ~300 lines: pulling, batching and acknowledging share one piece of state
 * (which messages are held, in which batch, written or not) and split apart they would each need
 * the others' internals; the parsing (parse-exposure.ts) and the writing (db/exposure-store.ts)
 * are already their own files.
 */
import { Duration, type Message, type PubSub, type Subscription } from '@google-cloud/pubsub';
import type { Logger } from '@herald/logger';
import { ensureSubscription } from '@herald/pubsub';
import type { ExposureEvent } from '@herald/types';
import type { ExposureSink } from '../db/exposure-store';
import type { ConsumerMetrics } from '../metrics';
import { parseExposure, storableText } from './parse-exposure';

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
  /** Unacknowledged messages held at most (CONSUMER_MAX_OUTSTANDING). */
  maxOutstanding: number;
  /** Batches written at the same time (CONSUMER_WRITE_CONCURRENCY). @default 1 */
  writeConcurrency?: number;
  /** Streaming-pull streams (CONSUMER_STREAMS). @default the client's (5) */
  streams?: number;
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

interface Pending {
  message: Message;
  event: ExposureEvent;
}

const IDLE = 0;
const RUNNING = 1;
const CLOSING = 2;
const CLOSED = 3;

export class ExposureSubscriber {
  private state = IDLE;
  private subscription?: Subscription;
  private buffer: Pending[] = [];
  private timer?: NodeJS.Timeout;
  /** Batch writes in progress. */
  private readonly writes = new Set<Promise<void>>();
  private readonly deadLettering = new Set<Promise<void>>();
  private failuresInARow = 0;
  private retryAt = 0;
  private closing?: Promise<void>;
  private reopenTimer?: NodeJS.Timeout;
  private reopenFailures = 0;
  private openedAt = 0;
  private readonly log: Logger;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly reopenInitialMs: number;
  private readonly reopenMaxMs: number;

  constructor(private readonly opts: ExposureSubscriberOptions) {
    for (const name of ['batchMax', 'batchMaxMs', 'maxOutstanding', 'ackDeadlineSeconds'] as const) {
      if (!Number.isInteger(opts[name]) || opts[name] < 1) throw new TypeError(`ExposureSubscriber: ${name} must be a positive integer`);
    }
    this.log = opts.logger.child({ module: 'exposure-subscriber' });
    this.retryInitialMs = opts.retryInitialMs ?? 100;
    this.retryMaxMs = opts.retryMaxMs ?? 10_000;
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
    const ackDeadline = Duration.from({ seconds: this.opts.ackDeadlineSeconds });
    const subscription = this.opts.pubsub.subscription(this.opts.subscriptionName, {
      flowControl: { maxMessages: this.opts.maxOutstanding, allowExcessMessages: false },
      ...(this.opts.streams ? { streamingOptions: { maxStreams: this.opts.streams } } : {}),
      minAckDeadline: ackDeadline,
      maxAckDeadline: ackDeadline,
      closeOptions: { behavior: 'WAIT', timeout: Duration.from({ milliseconds: this.opts.closeTimeoutMs ?? 10_000 }) },
    });
    subscription.on('message', (message: Message) => this.onMessage(message));
    // Transient stream errors are retried by the client; what reaches us needs an operator.
    subscription.on('error', (err: Error) => this.log.error({ err }, 'exposure subscription failed'));
    subscription.on('close', () => this.onClosed(subscription));
    this.subscription = subscription;
    this.openedAt = Date.now();
  }

  /** The client closed the subscription by itself (a status it does not retry): reopen it, later. */
  private onClosed(subscription: Subscription): void {
    if (subscription !== this.subscription || this.state !== RUNNING) return;
    subscription.removeAllListeners('message');
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
    clearTimeout(this.timer);
    clearTimeout(this.reopenTimer);
    if (!wasRunning || !this.subscription) {
      this.state = CLOSED;
      return;
    }
    // Destroys the stream at once; then waits (up to closeTimeoutMs) for held messages to be settled.
    const closed = this.subscription.close();
    try {
      do {
        await this.flush();
      } while (this.buffer.length > 0);
      await Promise.all(this.deadLettering);
      await closed;
    } finally {
      // The error listener stays: a late stream error must be logged, not thrown as unhandled.
      this.subscription.removeAllListeners('message');
      this.state = CLOSED;
      this.log.info('exposure subscriber closed');
    }
  }

  private onMessage(message: Message): void {
    this.opts.metrics.received.inc();
    if (this.state !== RUNNING) {
      message.nack();
      return;
    }
    const parsed = parseExposure(message.data);
    if (!parsed.ok) {
      this.deadLetter(message, parsed.reason);
      return;
    }
    this.buffer.push({ message, event: parsed.event });
    if (this.buffer.length >= this.opts.batchMax) this.kick();
    else this.arm(this.opts.batchMaxMs);
  }

  private deadLetter(message: Message, reason: string): void {
    const done = this.opts.sink
      .insertDeadLetter({ pubsubMessageId: message.id, data: storableText(message.data), reason })
      .then(
        () => {
          message.ack();
          this.opts.metrics.deadLetters.inc();
          this.log.warn({ pubsubMessageId: message.id, reason }, 'poison message stored in dead_letters');
        },
        (err: unknown) => {
          message.nack();
          this.log.error({ err, pubsubMessageId: message.id }, 'storing a dead letter failed; nacked for redelivery');
        },
      )
      .finally(() => this.deadLettering.delete(done));
    this.deadLettering.add(done);
  }

  /** Schedules a flush in `delayMs` unless one is scheduled already. */
  private arm(delayMs: number): void {
    if (this.timer || this.state !== RUNNING) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.startWrites();
    }, delayMs);
  }

  /** Write what is buffered now rather than at the timer. */
  private kick(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.startWrites();
  }

  /** Writes everything buffered, up to `writeConcurrency` batches at once; resolves when all are written. */
  private async flush(): Promise<void> {
    this.kick();
    while (this.writes.size > 0) await Promise.race(this.writes);
  }

  /** Start batch writes while some are buffered and a slot is free, unless a failure asked for a pause. */
  private startWrites(): void {
    const concurrency = this.opts.writeConcurrency ?? 1;
    while (this.buffer.length > 0 && this.writes.size < concurrency) {
      const wait = this.retryAt - Date.now();
      if (wait > 0 && this.state === RUNNING) {
        this.arm(wait);
        return;
      }
      const write: Promise<void> = this.write(this.buffer.splice(0, this.opts.batchMax)).finally(() => {
        this.writes.delete(write);
        this.startWrites();
      });
      this.writes.add(write);
    }
  }

  /** Never throws: the batch ends acknowledged (committed) or nacked (to be redelivered). */
  private async write(batch: Pending[]): Promise<void> {
    const endTimer = this.opts.metrics.batchSeconds.startTimer();
    try {
      const result = await this.opts.sink.insertBatch(batch.map((p) => p.event));
      endTimer({ outcome: 'ok' });
      this.opts.metrics.lagSeconds.set(lagSeconds(batch, Date.now()));
      for (const p of batch) p.message.ack();
      this.opts.metrics.inserted.inc(result.inserted);
      this.opts.metrics.duplicates.inc(result.duplicates);
      this.failuresInARow = 0;
      this.retryAt = 0;
      this.log.debug({ size: batch.length, ...result }, 'batch written');
    } catch (err) {
      endTimer({ outcome: 'error' });
      for (const p of batch) p.message.nack();
      this.failuresInARow += 1;
      const delay = Math.min(this.retryMaxMs, this.retryInitialMs * 2 ** (this.failuresInARow - 1));
      this.retryAt = Date.now() + delay;
      this.log.error({ err, size: batch.length, failuresInARow: this.failuresInARow, retryInMs: delay }, 'writing exposure batch failed; nacked for redelivery');
    }
  }
}

/** Seconds from the oldest push in the batch to `now`. */
function lagSeconds(batch: Pending[], now: number): number {
  let oldest = now;
  for (const p of batch) {
    const at = Date.parse(p.event.deliveredAt);
    if (at < oldest) oldest = at;
  }
  return (now - oldest) / 1000;
}
