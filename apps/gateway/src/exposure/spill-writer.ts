/**
 * The write side of the exposure spill: events the publisher cannot hold in memory are appended,
 * in order, to the Redis stream (libs/redis exposure-spill), within its bounds
 * (EXPOSURE_SPILL_MAX_EVENTS, EXPOSURE_SPILL_MAX_AGE_MS). What the bounds refuse or trim is
 * counted (`dropped`, `expired`) and logged, never retried: a full spill must not fill Redis.
 * When Redis refuses the append itself (down, out of memory), the events wait here, at most
 * twice the memory bound; past it the oldest go (`failed`). Packed exposures go as they are, one
 * entry for the lot (libs/redis exposure-spill).
 */
import type { Logger } from '@herald/logger';
import { spillExposures, type HeraldRedis, type SpillBounds, type SpillResult } from '@herald/redis';
import type { GatewayMetrics } from '../metrics';
import { countOf, takeHead, type Pending } from './stage';

export interface SpillWriterOptions {
  redis: HeraldRedis;
  bounds: SpillBounds;
  /** Events per append (an entry of more goes alone). */
  batchMax: number;
  /** Events waiting here while Redis refuses appends, at most. */
  waitingMax: number;
  metrics: GatewayMetrics;
  logger: Logger;
  /** An event is in the spill, or given up: its log batch has nothing left to keep. */
  settled(event: Pending): void;
  closed(): boolean;
}

/** After Redis refused an append, the next attempt waits this long. */
const RETRY_MS = 1_000;
/** One log line per this many events refused by a full spill. */
const DROPPED_PER_LOG_LINE = 1000;

export class SpillWriter {
  private buffer: Pending[] = [];
  /** Events the buffer holds. */
  private buffered = 0;
  private running?: Promise<void>;
  private droppedSinceLog = 0;

  constructor(private readonly opts: SpillWriterOptions) {}

  /** Events waiting to be appended. */
  get waiting(): number {
    return this.buffered;
  }

  /** The append loop while one runs (a replay must wait for it before memory takes over). */
  get writing(): Promise<void> | undefined {
    return this.running;
  }

  add(event: Pending): void {
    this.buffer.push(event);
    this.buffered += event.count;
    this.running ??= this.drain().finally(() => (this.running = undefined));
  }

  /** Takes the waiting events away (shutdown spills them with the rest itself). */
  takeAll(): Pending[] {
    const events = this.buffer;
    this.buffer = [];
    this.buffered = 0;
    return events;
  }

  /** Appends events at once (shutdown); rejects when Redis refuses. */
  async append(events: ReadonlyArray<Pending | string>): Promise<void> {
    this.count(await spillExposures(this.opts.redis, events, this.opts.bounds));
  }

  /** The buffer's head: Pendings of at most batchMax events in all (one at least). */
  private take(): Pending[] {
    const batch = takeHead(this.buffer, this.opts.batchMax);
    this.buffered -= countOf(batch);
    return batch;
  }

  /** Append the buffer until it is empty; on failure keep it (bounded) and retry. */
  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.take();
      try {
        await this.append(batch);
        for (const event of batch) this.opts.settled(event);
      } catch (err) {
        this.buffer = batch.concat(this.buffer);
        this.buffered += countOf(batch);
        if (this.buffered > this.opts.waitingMax) {
          // Pub/Sub and Redis both unavailable for long: the one loss memory bounds force (the
          // oldest entries, until the rest is within the bound).
          let over = 0;
          while (this.buffered > this.opts.waitingMax) {
            const event = this.buffer.shift()!;
            this.buffered -= event.count;
            over += event.count;
            this.opts.settled(event);
          }
          this.opts.metrics.exposures.inc({ outcome: 'failed' }, over);
          this.opts.logger.error({ err, dropped: over }, 'exposure events dropped: Pub/Sub and Redis are both unavailable');
        } else {
          this.opts.logger.warn({ err, waiting: this.buffered }, 'spilling exposure events failed; retrying');
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        if (this.opts.closed()) return;
      }
    }
  }

  private count(result: SpillResult): void {
    const { exposures } = this.opts.metrics;
    if (result.spilled > 0) exposures.inc({ outcome: 'spilled' }, result.spilled);
    if (result.expired > 0) {
      exposures.inc({ outcome: 'expired' }, result.expired);
      this.opts.logger.error({ events: result.expired }, 'spilled exposure events older than EXPOSURE_SPILL_MAX_AGE_MS trimmed unpublished');
    }
    if (result.refused > 0) {
      exposures.inc({ outcome: 'dropped' }, result.refused);
      // The spill stays full for as long as Pub/Sub is down: one line per thousand.
      if (this.droppedSinceLog === 0) {
        this.opts.logger.error(
          { events: result.refused, maxEvents: this.opts.bounds.maxEvents },
          'exposure spill full (EXPOSURE_SPILL_MAX_EVENTS): exposure events dropped; deliveries go on',
        );
      }
      this.droppedSinceLog = (this.droppedSinceLog + result.refused) % DROPPED_PER_LOG_LINE;
    }
  }
}
