/**
 * The subscriber's buffer: parsed events wait here with their Pub/Sub messages and are written in
 * batches, mixed kinds together (event-writer.ts writes each kind to its table in one transaction).
 *
 * - A batch is written when `batchMax` events wait or `batchMaxMs` has passed since the first; up
 *   to `writeConcurrency` batches at once (order does not matter: every write is idempotent).
 * - A message is acknowledged only after the batch holding it committed (a message of several
 *   events, once every batch holding one of them did: shared-message.ts). When the write fails the
 *   batch is nacked (Pub/Sub redelivers it, here or to another replica) and writing pauses with an
 *   exponential backoff, so a database outage is not turned into a hot loop.
 * - Poison messages are stored in `dead_letters` with the reason, then acknowledged.
 * - drain() writes what is buffered, at once and without the backoff (the subscriber is closing).
 */
import type { Logger } from '@herald/logger';
import type { ExposureSink } from '../db/event-writer';
import type { ConsumerMetrics } from '../metrics';
import { toBatch, type ConsumerEvent } from './consumer-event';
import { storableText } from './parse-exposure';
import type { Settleable as Message } from './shared-message';

export interface BatchWriterOptions {
  sink: ExposureSink;
  metrics: ConsumerMetrics;
  logger: Logger;
  /** Write a batch once this many events wait (CONSUMER_BATCH_MAX). */
  batchMax: number;
  /** ...or once the first waiting event is this old (CONSUMER_BATCH_MAX_MS). */
  batchMaxMs: number;
  /** Batches written at the same time (CONSUMER_WRITE_CONCURRENCY). @default 1 */
  writeConcurrency?: number;
  /** Pause after the first failed write; doubles with each failure in a row. @default 100 */
  retryInitialMs?: number;
  /** Longest pause between failed writes. @default 10000 */
  retryMaxMs?: number;
}

interface Pending {
  message: Message;
  event: ConsumerEvent;
}

export class BatchWriter {
  private buffer: Pending[] = [];
  private timer?: NodeJS.Timeout;
  /** Batch writes in progress. */
  private readonly writes = new Set<Promise<void>>();
  private readonly deadLettering = new Set<Promise<void>>();
  private failuresInARow = 0;
  private retryAt = 0;
  private draining = false;
  private readonly log: Logger;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;

  constructor(private readonly opts: BatchWriterOptions) {
    this.log = opts.logger.child({ module: 'batch-writer' });
    this.retryInitialMs = opts.retryInitialMs ?? 100;
    this.retryMaxMs = opts.retryMaxMs ?? 10_000;
  }

  add(message: Message, event: ConsumerEvent): void {
    this.buffer.push({ message, event });
    if (this.buffer.length >= this.opts.batchMax) this.kick();
    else this.arm(this.opts.batchMaxMs);
  }

  /** Stores `data` (the message's, or one event of it) in `dead_letters` with `reason`, then settles `message`. */
  deadLetter(message: Message, data: Buffer, reason: string): void {
    const done = this.opts.sink
      .insertDeadLetter({ pubsubMessageId: message.id, data: storableText(data), reason })
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

  /** Writes and settles everything buffered (and dead letters in progress), without waiting for the timer or a backoff. */
  async drain(): Promise<void> {
    this.draining = true;
    do {
      this.kick();
      while (this.writes.size > 0) await Promise.race(this.writes);
    } while (this.buffer.length > 0);
    await Promise.all(this.deadLettering);
  }

  /** Schedules a flush in `delayMs` unless one is scheduled already. */
  private arm(delayMs: number): void {
    if (this.timer || this.draining) return;
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

  /** Start batch writes while some are buffered and a slot is free, unless a failure asked for a pause. */
  private startWrites(): void {
    const concurrency = this.opts.writeConcurrency ?? 1;
    while (this.buffer.length > 0 && this.writes.size < concurrency) {
      const wait = this.retryAt - Date.now();
      if (wait > 0 && !this.draining) {
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
    const { metrics } = this.opts;
    const endTimer = metrics.batchSeconds.startTimer();
    try {
      const result = await this.opts.sink.writeBatch(toBatch(batch.map((p) => p.event)));
      endTimer({ outcome: 'ok' });
      metrics.lagSeconds.set(lagSeconds(batch, Date.now()));
      for (const p of batch) p.message.ack();
      metrics.inserted.inc(result.exposures.inserted);
      metrics.duplicates.inc(result.exposures.duplicates);
      metrics.countEvents('exposures', result.exposures);
      metrics.countEvents('engagements', result.engagements);
      metrics.countEvents('losses', result.losses);
      metrics.countEvents('messages', { inserted: result.messages, duplicates: 0 });
      this.failuresInARow = 0;
      this.retryAt = 0;
      this.log.debug({ size: batch.length, ...result }, 'batch written');
    } catch (err) {
      endTimer({ outcome: 'error' });
      for (const p of batch) p.message.nack();
      this.failuresInARow += 1;
      const delay = Math.min(this.retryMaxMs, this.retryInitialMs * 2 ** (this.failuresInARow - 1));
      this.retryAt = Date.now() + delay;
      this.log.error({ err, size: batch.length, failuresInARow: this.failuresInARow, retryInMs: delay }, 'writing an event batch failed; nacked for redelivery');
    }
  }
}

/**
 * Seconds from the oldest event in the batch (its deliveredAt, or `at`) to `now`, 0 if none is
 * older. The times are in toISOString's form (parse-fields.ts isoTime), whose text order is time
 * order: one is parsed per batch, not one per event.
 */
function lagSeconds(batch: Pending[], now: number): number {
  let oldest: string | undefined;
  for (const { event } of batch) {
    const at = event.table === 'exposures' ? event.event.deliveredAt : event.event.at;
    if (oldest === undefined || at < oldest) oldest = at;
  }
  return oldest === undefined ? 0 : Math.max(0, now - Date.parse(oldest)) / 1000;
}
