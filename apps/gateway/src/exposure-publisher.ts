/**
 * Publishes an exposure event for every message pushed, without ever making delivery wait, and
 * without losing one when Pub/Sub is slow or down.
 *
 * - `record()` serializes the event and queues it in memory; a pump hands what is queued to the
 *   Pub/Sub client's batcher (EXPOSURE_BATCH_MAX_MESSAGES / EXPOSURE_BATCH_MAX_MS). Nothing on the
 *   delivery path awaits anything.
 * - Memory is bounded: at most `bufferMax` events are queued or being published. When Pub/Sub
 *   stalls and the bound is reached, the publisher starts SPILLING: every new event is appended
 *   to a Redis stream (libs/redis exposure-spill) instead, so arrival order is kept.
 * - A publish that fails goes back to the head of the queue and is retried with backoff.
 * - Once the memory queue has drained (Pub/Sub takes events again), the spill is replayed, oldest
 *   first, in batches: published, then acknowledged and deleted. When it is empty, new events go
 *   to memory again. Any gateway replays any gateway's spill; entries a dead gateway was replaying
 *   are claimed after EXPOSURE_SPILL_CLAIM_MS. A gateway starts in replay mode if the spill holds
 *   anything, and checks for leftovers on the same period.
 * - `close()` flushes under a deadline; what Pub/Sub has not taken by half the deadline is
 *   spilled (events still in a publish call too: the consumer drops the duplicate if that call
 *   succeeds after all).
 * - If Redis is down too, events wait in memory up to twice the bound; past that they are
 *   dropped, counted (`outcome="failed"`) and logged.
 */
import { randomUUID } from 'node:crypto';
import type { Topic } from '@google-cloud/pubsub';
import type { ExposureEvent } from '@herald/types';
import type { Logger } from '@herald/logger';
import { ackSpill, ensureSpillGroup, readSpill, spillExposures, spillLength, type HeraldRedis } from '@herald/redis';
import type { GatewayMetrics } from './metrics';

const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 5_000;

export interface ExposurePublisherOptions {
  topic: Topic;
  redis: HeraldRedis;
  gatewayId: string;
  /** Events queued or being published, at most (EXPOSURE_BUFFER_MAX). */
  bufferMax: number;
  /** Events handed to the client per step, and read from the spill per replay step. */
  batchMax: number;
  /** EXPOSURE_SPILL_CLAIM_MS. */
  claimIdleMs: number;
  metrics: GatewayMetrics;
  logger: Logger;
}

export class ExposurePublisher {
  /** Serialized events waiting to be handed to the client, oldest first. */
  private queue: string[] = [];
  /** Events handed to the client and not yet settled. */
  private readonly inflight = new Set<string[]>();
  private inflightCount = 0;
  /** New events go to the spill while this is set (see the header). */
  private spilling = false;
  private spillBuffer: string[] = [];
  private spillWriting?: Promise<void>;
  private replaying?: Promise<void>;
  private retryAt = 0;
  private failuresInARow = 0;
  private pumpScheduled = false;
  private retryTimer?: NodeJS.Timeout;
  private readonly sweep: NodeJS.Timeout;
  private readonly idle: Array<() => void> = [];
  private closing?: Promise<void>;
  private closed = false;
  private groupReady?: Promise<void>;

  constructor(private readonly opts: ExposurePublisherOptions) {
    // Leftovers of any gateway (a spill that was not replayed, a replay that died) get picked up.
    this.sweep = setInterval(() => void this.checkLeftovers(), opts.claimIdleMs);
    this.sweep.unref();
    void this.checkLeftovers();
  }

  /** If the spill holds anything, switch to spilling: memory drains, then the spill is replayed. */
  private async checkLeftovers(): Promise<void> {
    if (this.spilling || this.replaying || this.closed) return;
    try {
      if ((await spillLength(this.opts.redis)) === 0) return;
    } catch (err) {
      this.opts.logger.debug({ err }, 'could not read the exposure spill length');
      return;
    }
    this.spilling = true;
    this.startReplay();
  }

  /** Record that `messageId` was pushed to a session; returns at once. */
  record(
    messageId: string,
    category: string | null,
    userId: string,
    sessionId: string,
    via: ExposureEvent['via'],
    deliveredAt = new Date().toISOString(),
  ): void {
    const event: ExposureEvent = {
      eventId: randomUUID(),
      messageId,
      userId,
      category,
      sessionId,
      gatewayId: this.opts.gatewayId,
      deliveredAt,
      via,
    };
    this.accept(JSON.stringify(event));
  }

  /** Events in memory (queued, being published, or waiting to be written to the spill). */
  get outstanding(): number {
    return this.queue.length + this.inflightCount + this.spillBuffer.length;
  }

  private accept(data: string): void {
    if (!this.spilling && this.queue.length + this.inflightCount >= this.opts.bufferMax) {
      this.spilling = true;
      this.opts.logger.warn({ buffered: this.outstanding }, 'exposure buffer full: spilling to Redis until Pub/Sub catches up');
    }
    if (this.spilling) this.toSpill([data]);
    else {
      this.queue.push(data);
      this.schedulePump();
    }
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Hand queued events to the client, unless a failure asked for a pause. */
  private pump(): void {
    const wait = this.retryAt - Date.now();
    if (wait > 0) {
      this.retryTimer ??= setTimeout(() => {
        this.retryTimer = undefined;
        this.pump();
      }, wait);
      return;
    }
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.opts.batchMax);
      void this.publish(batch).then((failed) => {
        // Failed events go back to the head: they arrived before everything queued since.
        if (failed.length > 0) this.queue.unshift(...failed);
        this.afterPublish();
      });
    }
  }

  /**
   * Publish a batch; resolves with the events that failed (never rejects). A batch from memory
   * counts against the bound while in flight; a batch from the spill is in Redis already.
   */
  private async publish(batch: string[], fromSpill = false): Promise<string[]> {
    if (!fromSpill) {
      this.inflight.add(batch);
      this.inflightCount += batch.length;
    }
    const results = await Promise.allSettled(batch.map((data) => this.opts.topic.publishMessage({ data: Buffer.from(data) })));
    if (!fromSpill) {
      this.inflight.delete(batch);
      this.inflightCount -= batch.length;
    }
    const failed: string[] = [];
    let firstError: unknown;
    results.forEach((result, i) => {
      if (result.status === 'rejected') {
        failed.push(batch[i]);
        firstError ??= result.reason;
      }
    });
    const ok = batch.length - failed.length;
    // Replayed ones are counted as `replayed` once acknowledged in the spill (see replay()).
    if (ok > 0 && !fromSpill) this.opts.metrics.exposures.inc({ outcome: 'published' }, ok);
    if (failed.length > 0) {
      this.opts.metrics.exposures.inc({ outcome: 'retried' }, failed.length);
      this.failuresInARow++;
      const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (this.failuresInARow - 1));
      this.retryAt = Date.now() + delay;
      if (this.failuresInARow === 1 || this.failuresInARow % 10 === 0) {
        this.opts.logger.warn({ err: firstError, failed: failed.length, retryInMs: delay }, 'exposure publish failed; retrying');
      }
    } else {
      this.failuresInARow = 0;
    }
    return failed;
  }

  private afterPublish(): void {
    if (this.queue.length > 0) this.schedulePump();
    else if (this.inflightCount === 0) {
      if (this.spilling) this.startReplay();
      else this.notifyIdle();
    }
  }

  private toSpill(events: string[]): void {
    this.spillBuffer.push(...events);
    this.spillWriting ??= this.writeSpill().finally(() => (this.spillWriting = undefined));
  }

  /** Write the spill buffer to Redis until it is empty; on failure keep it (bounded) and retry. */
  private async writeSpill(): Promise<void> {
    while (this.spillBuffer.length > 0) {
      const batch = this.spillBuffer.splice(0, this.opts.batchMax);
      try {
        await spillExposures(this.opts.redis, batch);
        this.opts.metrics.exposures.inc({ outcome: 'spilled' }, batch.length);
      } catch (err) {
        this.spillBuffer.unshift(...batch);
        const over = this.spillBuffer.length - this.opts.bufferMax * 2;
        if (over > 0) {
          // Pub/Sub and Redis both down for long: the one loss memory bounds force.
          this.spillBuffer.splice(0, over);
          this.opts.metrics.exposures.inc({ outcome: 'failed' }, over);
          this.opts.logger.error({ err, dropped: over }, 'exposure events dropped: Pub/Sub and Redis are both unavailable');
        } else {
          this.opts.logger.warn({ err, waiting: this.spillBuffer.length }, 'spilling exposure events failed; retrying');
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_MAX_MS / 5));
        if (this.closed) return;
      }
    }
  }

  /** Replay the spill when memory has drained; a no-op while one runs or memory is busy. */
  private startReplay(): void {
    if (this.replaying || this.closed) return;
    if (this.queue.length > 0 || this.inflightCount > 0) return;
    this.replaying = this.replay()
      .catch((err: unknown) => this.opts.logger.warn({ err }, 'replaying spilled exposure events failed; will retry'))
      .finally(() => {
        this.replaying = undefined;
        if (!this.spilling && this.outstanding === 0) this.notifyIdle();
      });
  }

  private async replay(): Promise<void> {
    this.groupReady ??= ensureSpillGroup(this.opts.redis).catch((err: unknown) => {
      this.groupReady = undefined;
      throw err;
    });
    await this.groupReady;
    for (;;) {
      if (this.closed) return;
      const entries = await readSpill(this.opts.redis, this.opts.gatewayId, this.opts.batchMax, this.opts.claimIdleMs);
      if (entries.length === 0) {
        // Events still on their way into the stream must be replayed before memory takes over.
        if (this.spillWriting) {
          await this.spillWriting;
          continue;
        }
        if (this.spilling) this.opts.logger.info('exposure spill replayed; back to publishing from memory');
        this.spilling = false;
        return;
      }
      this.spilling = true;
      const failed = await this.publish(
        entries.map((e) => e.data),
        true,
      );
      const failedSet = new Set(failed);
      const done = entries.filter((e) => !failedSet.has(e.data)).map((e) => e.id);
      await ackSpill(this.opts.redis, done);
      this.opts.metrics.exposures.inc({ outcome: 'replayed' }, done.length);
      if (failed.length > 0) {
        // Pub/Sub refuses again: the failed ones stay pending for us; try later.
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, this.retryAt - Date.now())));
      }
    }
  }

  private notifyIdle(): void {
    for (const resolve of this.idle.splice(0)) resolve();
  }

  private isIdle(): boolean {
    return this.outstanding === 0 && !this.spillWriting && !this.replaying && !this.spilling;
  }

  /** Resolves when every recorded event has been accepted by Pub/Sub (spill replayed included). */
  async flush(): Promise<void> {
    await this.opts.topic.flush();
    while (!this.isIdle()) {
      await new Promise<void>((resolve) => {
        this.idle.push(resolve);
        setTimeout(resolve, 50);
      });
      if (this.spilling) this.startReplay();
    }
  }

  /**
   * Flush until half of `timeoutMs`; then spill what Pub/Sub has not taken (queued and in-flight
   * events) and wait for that write until the deadline. What is still in memory then is lost and
   * counted as failed.
   */
  close(timeoutMs: number): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.sweep);
      const flushed = await this.within(timeoutMs / 2, this.flush());
      this.closed = true;
      clearTimeout(this.retryTimer);
      if (!flushed) {
        const left = [...this.queue, ...[...this.inflight].flat(), ...this.spillBuffer.splice(0)];
        this.queue = [];
        this.opts.logger.warn({ events: left.length }, 'Pub/Sub did not take every exposure event before shutdown; spilling them');
        const written = await this.within(
          timeoutMs / 2,
          spillExposures(this.opts.redis, left).then(() => this.opts.metrics.exposures.inc({ outcome: 'spilled' }, left.length)),
        );
        if (!written) {
          this.opts.metrics.exposures.inc({ outcome: 'failed' }, left.length);
          this.opts.logger.error({ events: left.length }, 'exposure events lost: neither Pub/Sub nor Redis took them before the deadline');
        }
      }
      // A replay batch in flight stays pending in the stream; another gateway claims it if needed.
    })();
    return this.closing;
  }

  private async within(ms: number, work: Promise<unknown>): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    const result = await Promise.race([work.then(() => true as const, () => false as const), deadline]);
    clearTimeout(timer);
    return result;
  }
}
