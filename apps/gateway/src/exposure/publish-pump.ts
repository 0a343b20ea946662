/**
 * Stage 2 of the exposure path: publishes queued events in batches, one Pub/Sub call each
 * (@herald/pubsub BatchPublisher): a batch goes once EXPOSURE_BATCH_MAX_MESSAGES are queued, or
 * EXPOSURE_BATCH_MAX_MS after its first event; at most `bufferMax` events queued or in flight.
 * A batch's events go packed, up to EVENTS_PER_PUBSUB_MESSAGE to a Pub/Sub message
 * (@herald/pubsub event-messages.ts); exposures come packed already (wal-writer.ts), and the
 * bounds count events, not Pendings.
 * A batch that fails goes back to the head of the queue; every failure, from memory or from the
 * spill's replay, pauses publishing with one shared backoff: soon for a transient error, for
 * NON_RETRYABLE_PAUSE_MS after a permanent one (publish-errors.ts).
 */
import { packEvents, type BatchPublisher, type EventCompression, type OutgoingEvent } from '@herald/pubsub';
import type { Logger } from '@herald/logger';
import type { GatewayMetrics } from '../metrics';
import { classifyPublishError, NON_RETRYABLE_PAUSE_MS } from './publish-errors';
import { backoffMs, countOf, runEvery, takeHead, type Pending } from './stage';
import { kindOf } from './user-event-json';

export interface PublishPumpOptions {
  publisher: Pick<BatchPublisher, 'publish'>;
  /** Events queued or being published, at most (EXPOSURE_BUFFER_MAX): full() past it. */
  bufferMax: number;
  /** Events per publish call, at most (EXPOSURE_BATCH_MAX_MESSAGES). */
  batchMax: number;
  /** Events per Pub/Sub message, at most (EVENTS_PER_PUBSUB_MESSAGE; 1: a message each). */
  eventsPerMessage: number;
  /** How packed messages are compressed (EVENTS_PUBSUB_COMPRESSION). */
  compression: EventCompression;
  /** How long a batch waits for more events, at most (EXPOSURE_BATCH_MAX_MS). */
  batchWaitMs: number;
  now: () => number;
  metrics: GatewayMetrics;
  logger: Logger;
  /** Pub/Sub has an event: its log batch may go. */
  settled(event: Pending): void;
  /** The queue is empty and nothing from memory is in flight. */
  drained(): void;
}

export class PublishPump {
  /** Serialized events waiting to be handed to the client, oldest first (a Pending may hold several). */
  private queue: Pending[] = [];
  /** Events in the queue. */
  private queued = 0;
  /** Events handed to the client and not yet settled. */
  private readonly inflight = new Set<Pending[]>();
  private inflightCount = 0;
  /** No publish before then (the shared backoff). */
  private retryAt = 0;
  private failuresInARow = 0;
  private scheduled = false;
  /** Publishes a batch that is not full yet (EXPOSURE_BATCH_MAX_MS after its first event). */
  private waitTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private closed = false;
  private closing?: Promise<void>;

  constructor(private readonly opts: PublishPumpOptions) {}

  /** Events queued or in flight from memory. */
  get held(): number {
    return this.queued + this.inflightCount;
  }

  /** Events from memory handed to the publisher and not answered yet (in a call, or waiting for a turn: PUBLISH_CALLS_MAX). */
  get inFlight(): number {
    return this.inflightCount;
  }

  /** The memory bound is reached: new events must go elsewhere (the spill). */
  get full(): boolean {
    return this.held >= this.opts.bufferMax;
  }

  /** How many more events memory takes before the bound. */
  get room(): number {
    return this.opts.bufferMax - this.held;
  }

  /** At most half the bound is held: memory takes new events again, and the spill is replayed. */
  get hasRoom(): boolean {
    return this.held <= this.opts.bufferMax / 2;
  }

  push(event: Pending): void {
    this.queue.push(event);
    this.queued += event.count;
    this.schedule();
  }

  /** How long publishing still pauses after a failure, ms. */
  pauseLeft(): number {
    return Math.max(0, this.retryAt - this.opts.now());
  }

  /** Publish the full batches in a moment, the rest once it has waited batchWaitMs. */
  private schedule(): void {
    if (this.queued < this.opts.batchMax) {
      this.waitTimer ??= setTimeout(() => {
        this.waitTimer = undefined;
        this.pump();
      }, this.opts.batchWaitMs);
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump(true);
    });
  }

  /** Publish what is queued now, without waiting for the batches to fill (flush, shutdown). */
  publishNow(): void {
    this.pump();
  }

  /**
   * Publish queued events, unless a failure asked for a pause: every batch, or with `fullOnly`
   * only full ones (the rest waits for its timer).
   */
  private pump(fullOnly = false): void {
    if (this.closed) return;
    const wait = this.pauseLeft();
    if (wait > 0) {
      this.retryTimer ??= setTimeout(() => {
        this.retryTimer = undefined;
        this.pump();
      }, wait);
      return;
    }
    if (!fullOnly) {
      clearTimeout(this.waitTimer);
      this.waitTimer = undefined;
    }
    while (this.queue.length > 0 && this.queued >= (fullOnly ? this.opts.batchMax : 1)) {
      const batch = this.takeBatch();
      void this.publish(batch).then((failed) => {
        // Failed events go back to the head: they arrived before everything queued since.
        if (failed.length > 0) {
          this.queue = failed.concat(this.queue);
          this.queued += countOf(failed);
        }
        if (this.queue.length > 0) this.schedule();
        else if (this.inflightCount === 0) this.opts.drained();
      });
    }
  }

  /** The queue's head: Pendings of at most batchMax events in all (one at least). */
  private takeBatch(): Pending[] {
    const batch = takeHead(this.queue, this.opts.batchMax);
    this.queued -= countOf(batch);
    return batch;
  }

  /**
   * Publish a batch; resolves with the events that failed (never rejects). A batch from memory
   * counts against the bound while in flight; a batch from the spill (`fromSpill`) is in Redis
   * already, and is counted `replayed` by the replayer once acknowledged there.
   */
  async publish(batch: Pending[], fromSpill = false): Promise<Pending[]> {
    const events = countOf(batch);
    if (!fromSpill) {
      this.inflight.add(batch);
      this.inflightCount += events;
    }
    let error: unknown;
    try {
      await this.opts.publisher.publish(packEvents(batch.map(outgoingEvent), this.opts.eventsPerMessage, this.opts.compression));
    } catch (err) {
      error = err ?? new Error('publish failed');
    }
    if (!fromSpill) {
      this.inflight.delete(batch);
      this.inflightCount -= events;
    }
    if (error !== undefined) {
      this.failed(events, error);
      return batch;
    }
    for (const event of batch) this.opts.settled(event);
    if (!fromSpill) this.opts.metrics.exposures.inc({ outcome: 'published' }, events);
    this.failuresInARow = 0;
    return [];
  }

  /** Pause publishing: briefly for a transient error, NON_RETRYABLE_PAUSE_MS for a permanent one. */
  private failed(events: number, err: unknown): void {
    const { status, retryable } = classifyPublishError(err);
    this.opts.metrics.exposures.inc({ outcome: 'retried' }, events);
    this.opts.metrics.exposurePublishErrors.inc({ status, retryable: String(retryable) });
    this.failuresInARow++;
    const delay = retryable ? backoffMs(this.failuresInARow) : NON_RETRYABLE_PAUSE_MS;
    this.retryAt = Math.max(this.retryAt, this.opts.now() + delay);
    if (!retryable) {
      this.opts.logger.error(
        { err, status, failed: events, retryInMs: delay },
        'Pub/Sub refuses exposure events and will until this is fixed (does EXPOSURE_TOPIC exist? may this gateway publish to it?); ' +
          'events wait in memory and in the spill',
      );
    } else if (this.failuresInARow === 1 || this.failuresInARow % 10 === 0) {
      this.opts.logger.warn({ err, status, failed: events, retryInMs: delay }, 'exposure publish failed; retrying');
    }
  }

  /** Takes every event from memory away, queued first, then in flight (shutdown spills them). */
  takeAll(): Pending[] {
    const events = this.queue.concat(...this.inflight);
    this.queue = [];
    this.queued = 0;
    return events;
  }

  /** Stop publishing from memory (idempotent); calls in flight settle on their own. */
  close(): Promise<void> {
    this.closing ??= runEvery([
      () => {
        this.closed = true;
      },
      () => clearTimeout(this.retryTimer),
      () => clearTimeout(this.waitTimer),
    ]);
    return this.closing;
  }
}

/**
 * An event as it is published: the JSON, and the kind for events that have one (libs/types
 * events.ts; an exposure has none). Read from the JSON, which is all the write-ahead log and the
 * spill keep, so a replayed or rescued event gets it too. Bytes are packed exposures (stage.ts).
 */
function outgoingEvent({ data, count }: Pending): OutgoingEvent {
  const kind = typeof data === 'string' ? kindOf(data) : undefined;
  if (count > 1) return { data, kind, count };
  return kind === undefined ? { data } : { data, kind };
}
