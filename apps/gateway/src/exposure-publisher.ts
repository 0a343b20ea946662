/**
 * Publishes an exposure event for every message pushed, without losing one when Pub/Sub is slow
 * or down, or when the gateway dies, and without ever holding a delivery up for long.
 *
 * - Write-ahead (exposure/write-ahead.ts): `record()` serializes the event and holds the push.
 *   Once per turn of the event loop the held events go to this process's write-ahead log in Redis
 *   in one command; when Redis has them, the frames are written to the sockets. A push waits at
 *   most EXPOSURE_LOG_WAIT_MS: if Redis refuses the write (out of memory) or is slow, the frames
 *   go out anyway and the events go on `unlogged`. A gateway killed outright leaves its log
 *   behind; another gateway moves it to the spill once its heartbeat is EXPOSURE_SPILL_CLAIM_MS
 *   old by the Redis server's clock (never a gateway's own clock, which may be off).
 * - A pump hands the events to the Pub/Sub client's batcher (EXPOSURE_BATCH_MAX_MESSAGES /
 *   EXPOSURE_BATCH_MAX_MS); a log batch is deleted once all its events are published or spilled.
 * - Memory is bounded: at most `bufferMax` events are queued or being published. When Pub/Sub
 *   stalls and the bound is reached, the publisher starts SPILLING: every new event is appended
 *   to a Redis stream (exposure/spill-writer.ts, libs/redis exposure-spill) instead, so arrival
 *   order is kept. The stream is bounded too (EXPOSURE_SPILL_MAX_EVENTS,
 *   EXPOSURE_SPILL_MAX_AGE_MS): past it events are `dropped` (or `expired`), so an outage of
 *   Pub/Sub cannot fill Redis and stop deliveries.
 * - A publish that fails goes back to the head of the queue and is retried: soon for a transient
 *   error, after NON_RETRYABLE_PAUSE_MS for a permanent one (exposure/publish-errors.ts).
 * - Once the memory queue has drained (Pub/Sub takes events again), the spill is replayed, oldest
 *   first, in batches: published, then acknowledged and deleted. When it is empty, new events go
 *   to memory again. A replay that fails (Redis blip, its consumer group gone) starts again with
 *   backoff and makes the group again. Any gateway replays any gateway's spill; entries a dead
 *   gateway was replaying are claimed after EXPOSURE_SPILL_CLAIM_MS. A gateway starts in replay
 *   mode if the spill holds anything, and checks for leftovers (and dead gateways' logs) on the
 *   same period.
 * - `close()` flushes under a deadline; what Pub/Sub has not taken by half the deadline is
 *   spilled (events still in a publish call too: the consumer drops the duplicate if that call
 *   succeeds after all). If even that fails, the log stays for another gateway to rescue.
 */
import { randomUUID } from 'node:crypto';
import type { Topic } from '@google-cloud/pubsub';
import type { ExposureEvent } from '@herald/types';
import type { Logger } from '@herald/logger';
import { withTimeout } from '@herald/http';
import {
  ackSpill,
  beatWal,
  ensureSpillGroup,
  readSpill,
  rescueStaleWals,
  retireWal,
  spillLength,
  type HeraldRedis,
  type SpillBounds,
} from '@herald/redis';
import type { GatewayMetrics } from './metrics';
import { retryDelayMs } from './exposure/backoff';
import { classifyPublishError, NON_RETRYABLE_PAUSE_MS } from './exposure/publish-errors';
import { SpillWriter } from './exposure/spill-writer';
import { UNLOGGED, WriteAheadLog, type Pending, type Send } from './exposure/write-ahead';

export type { Send } from './exposure/write-ahead';


export interface ExposurePublisherOptions {
  topic: Topic;
  redis: HeraldRedis;
  /**
   * The write-ahead log's own connection (role `log`): a push waits for its log write, which must
   * not queue behind the auto-pipelined commands of the gateway's main connection.
   */
  log: HeraldRedis;
  gatewayId: string;
  /** Events queued or being published, at most (EXPOSURE_BUFFER_MAX). */
  bufferMax: number;
  /** Events handed to the client per step, and read from the spill per replay step. */
  batchMax: number;
  /** EXPOSURE_SPILL_CLAIM_MS. */
  claimIdleMs: number;
  /** EXPOSURE_SPILL_MAX_EVENTS and EXPOSURE_SPILL_MAX_AGE_MS. */
  spill: SpillBounds;
  /** EXPOSURE_LOG_WAIT_MS. */
  logWaitMs: number;
  /** HERALD_TEST_CLOCK_OFFSET_MS (tests only): this process's clock is that far off. */
  clockOffsetMs?: number;
  metrics: GatewayMetrics;
  logger: Logger;
}

export class ExposurePublisher {
  /** This process's write-ahead log (a gateway id may be shared by replicas; a process's is not). */
  readonly walId: string;
  private readonly log: WriteAheadLog;
  private readonly now: () => number;
  /** Serialized events waiting to be handed to the client, oldest first. */
  private queue: Pending[] = [];
  /** Events handed to the client and not yet settled. */
  private readonly inflight = new Set<Pending[]>();
  private inflightCount = 0;
  /** New events go to the spill while this is set (see the header). */
  private spilling = false;
  private readonly spill: SpillWriter;
  private replaying?: Promise<void>;
  private replayFailures = 0;
  private replayTimer?: NodeJS.Timeout;
  private retryAt = 0;
  private failuresInARow = 0;
  private pumpScheduled = false;
  private retryTimer?: NodeJS.Timeout;
  private readonly sweep: NodeJS.Timeout;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly idle: Array<() => void> = [];
  private closing?: Promise<void>;
  private closed = false;
  private groupReady?: Promise<void>;

  constructor(private readonly opts: ExposurePublisherOptions) {
    this.walId = `${opts.gatewayId}:${randomUUID()}`;
    const offset = opts.clockOffsetMs ?? 0;
    this.now = offset === 0 ? Date.now : () => Date.now() + offset;
    this.log = new WriteAheadLog({
      redis: opts.log,
      walId: this.walId,
      waitMs: opts.logWaitMs,
      now: this.now,
      metrics: opts.metrics,
      logger: opts.logger,
      onSent: (event) => this.accept(event),
    });
    this.spill = new SpillWriter({
      redis: opts.redis,
      bounds: opts.spill,
      batchMax: opts.batchMax,
      waitingMax: opts.bufferMax * 2,
      metrics: opts.metrics,
      logger: opts.logger,
      settled: (event) => this.log.settled(event),
      closed: () => this.closed,
    });
    // Registered before the first batch is written (the heartbeat is stamped by Redis's clock).
    const beat = () =>
      beatWal(opts.redis, this.walId).catch((err: unknown) => opts.logger.debug({ err }, 'exposure log heartbeat failed'));
    void beat();
    this.heartbeat = setInterval(beat, Math.max(50, Math.floor(opts.claimIdleMs / 3)));
    this.heartbeat.unref();
    // Leftovers of any gateway (a dead one's log, a spill that was not replayed, a replay that
    // died) get picked up.
    this.sweep = setInterval(() => void this.checkLeftovers(), opts.claimIdleMs);
    this.sweep.unref();
    void this.checkLeftovers();
  }

  /** Rescue dead gateways' logs; if the spill holds anything (or a replay is due), replay it. */
  private async checkLeftovers(): Promise<void> {
    if (this.closed) return;
    try {
      const rescued = await rescueStaleWals(this.opts.redis, this.walId, this.opts.claimIdleMs);
      if (rescued > 0) {
        this.opts.metrics.exposures.inc({ outcome: 'rescued' }, rescued);
        this.opts.logger.warn({ events: rescued }, "moved a stopped gateway's exposure log to the spill");
      }
      if (this.replaying) return;
      if (!this.spilling && (await spillLength(this.opts.redis)) === 0) return;
    } catch (err) {
      this.opts.logger.debug({ err }, 'could not check for exposure leftovers');
      return;
    }
    if (this.closed || this.replaying) return;
    this.spilling = true;
    this.startReplay();
  }

  /**
   * The members of a session's exposure events that never change (user, session, gateway), as
   * JSON, built once per session (see record()).
   */
  sessionPart(userId: string, sessionId: string): string {
    return `"userId":${JSON.stringify(userId)},"sessionId":${JSON.stringify(sessionId)},"gatewayId":${JSON.stringify(this.opts.gatewayId)}`;
  }

  /**
   * Record that `messageId` is being pushed to a session (`sessionPart` from sessionPart());
   * `send` writes the frame once the event is logged (in this turn's batch, in order), or after
   * EXPOSURE_LOG_WAIT_MS at most. Returns at once. The event is the Contract's exposure JSON,
   * written out directly: no object per push.
   */
  record(
    messageId: string,
    category: string | null,
    sessionPart: string,
    via: ExposureEvent['via'],
    send: Send,
    deliveredAt = new Date(this.now()).toISOString(),
  ): void {
    this.log.add(
      `{"eventId":"${randomUUID()}","messageId":${JSON.stringify(messageId)},"category":${JSON.stringify(category)},` +
        `${sessionPart},"deliveredAt":"${deliveredAt}","via":"${via}"}`,
      send,
    );
  }

  /** Events in memory (waiting for the log, queued, being published, or waiting to be spilled). */
  get outstanding(): number {
    return this.log.waiting + this.queue.length + this.inflightCount + this.spill.waiting;
  }

  private accept(event: Pending): void {
    if (!this.spilling && this.queue.length + this.inflightCount >= this.opts.bufferMax) {
      this.spilling = true;
      this.opts.logger.warn({ buffered: this.outstanding }, 'exposure buffer full: spilling to Redis until Pub/Sub catches up');
    }
    if (this.spilling) this.spill.add(event);
    else {
      this.queue.push(event);
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
    const wait = this.retryAt - this.now();
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
        if (failed.length > 0) this.queue = failed.concat(this.queue);
        this.afterPublish();
      });
    }
  }

  /**
   * Publish a batch; resolves with the events that failed (never rejects). A batch from memory
   * counts against the bound while in flight; a batch from the spill is in Redis already.
   */
  private async publish(batch: Pending[], fromSpill = false): Promise<Pending[]> {
    if (!fromSpill) {
      this.inflight.add(batch);
      this.inflightCount += batch.length;
    }
    const results = await Promise.allSettled(batch.map((event) => this.opts.topic.publishMessage({ data: Buffer.from(event.data) })));
    if (!fromSpill) {
      this.inflight.delete(batch);
      this.inflightCount -= batch.length;
    }
    const failed: Pending[] = [];
    let firstError: unknown;
    results.forEach((result, i) => {
      if (result.status === 'rejected') {
        failed.push(batch[i]);
        firstError ??= result.reason;
      } else this.log.settled(batch[i]);
    });
    const ok = batch.length - failed.length;
    // Replayed ones are counted as `replayed` once acknowledged in the spill (see replay()).
    if (ok > 0 && !fromSpill) this.opts.metrics.exposures.inc({ outcome: 'published' }, ok);
    if (failed.length > 0) this.publishFailed(failed.length, firstError);
    else this.failuresInARow = 0;
    return failed;
  }

  /** Pause publishing: briefly for a transient error, NON_RETRYABLE_PAUSE_MS for a permanent one. */
  private publishFailed(events: number, err: unknown): void {
    const { status, retryable } = classifyPublishError(err);
    this.opts.metrics.exposures.inc({ outcome: 'retried' }, events);
    this.opts.metrics.exposurePublishErrors.inc({ status, retryable: String(retryable) });
    this.failuresInARow++;
    const delay = retryable ? retryDelayMs(this.failuresInARow) : NON_RETRYABLE_PAUSE_MS;
    this.retryAt = Math.max(this.retryAt, this.now() + delay);
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

  private afterPublish(): void {
    if (this.queue.length > 0) this.schedulePump();
    else if (this.inflightCount === 0) {
      if (this.spilling) this.startReplay();
      else this.notifyIdle();
    }
  }

  /** Replay the spill when memory has drained; a no-op while one runs or memory is busy. */
  private startReplay(): void {
    if (this.replaying || this.closed) return;
    if (this.queue.length > 0 || this.inflightCount > 0) return;
    clearTimeout(this.replayTimer);
    this.replayTimer = undefined;
    this.replaying = this.replay()
      .then(
        () => {
          this.replayFailures = 0;
        },
        (err: unknown) => this.replayFailed(err),
      )
      .finally(() => {
        this.replaying = undefined;
        if (!this.spilling && this.outstanding === 0) this.notifyIdle();
      });
  }

  /**
   * A replay threw (a Redis blip; NOGROUP: its group was destroyed, or the stream deleted and made
   * again): start again after a backoff, making the group again, for as long as there is a spill.
   */
  private replayFailed(err: unknown): void {
    this.replayFailures++;
    this.groupReady = undefined;
    const delay = retryDelayMs(this.replayFailures);
    if (this.replayFailures === 1 || this.replayFailures % 10 === 0) {
      this.opts.logger.warn({ err, failures: this.replayFailures, retryInMs: delay }, 'replaying spilled exposure events failed; retrying');
    }
    if (this.closed) return;
    this.replayTimer = setTimeout(() => {
      this.replayTimer = undefined;
      if (this.spilling) this.startReplay();
    }, delay);
    this.replayTimer.unref();
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
        const writing = this.spill.writing;
        if (writing) {
          await writing;
          continue;
        }
        if (this.spilling) this.opts.logger.info('exposure spill replayed; back to publishing from memory');
        this.spilling = false;
        return;
      }
      this.spilling = true;
      const events = entries.map((e): Pending => ({ data: e.data, batch: UNLOGGED }));
      const failed = new Set(await this.publish(events, true));
      const done = entries.filter((_, i) => !failed.has(events[i])).map((e) => e.id);
      await ackSpill(this.opts.redis, done);
      this.opts.metrics.exposures.inc({ outcome: 'replayed' }, done.length);
      if (failed.size > 0) {
        // Pub/Sub refuses again: the failed ones stay pending for us; try later.
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, this.retryAt - this.now())));
      }
    }
  }

  private notifyIdle(): void {
    for (const resolve of this.idle.splice(0)) resolve();
  }

  private isIdle(): boolean {
    return this.outstanding === 0 && !this.spill.writing && !this.replaying && !this.spilling;
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
   * events) and wait for that write until the deadline. When everything is published or spilled
   * the log is removed; otherwise it stays, and another gateway rescues it once this one's
   * heartbeat has stopped.
   */
  close(timeoutMs: number): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.sweep);
      const flushed = await this.within(timeoutMs / 2, this.flush(), 'flushing exposure events');
      this.closed = true;
      clearTimeout(this.retryTimer);
      clearTimeout(this.replayTimer);
      clearInterval(this.heartbeat);
      this.log.close();
      let safe = flushed;
      if (!flushed) {
        const left: string[] = [];
        for (const batch of [this.queue, ...this.inflight, this.spill.takeAll()]) for (const event of batch) left.push(event.data);
        this.queue = [];
        this.opts.logger.warn({ events: left.length }, 'Pub/Sub did not take every exposure event before shutdown; spilling them');
        safe = await this.within(timeoutMs / 2, this.spill.append(left), 'spilling exposure events');
        if (!safe) {
          this.opts.logger.error(
            { events: left.length },
            'exposure events not published before the deadline; they stay in the exposure log for another gateway',
          );
        }
      }
      // Pushes that never got their log write did not happen (their sessions are closed).
      if (safe) await this.within(timeoutMs / 4, retireWal(this.opts.redis, this.walId), 'retiring the exposure log');
      // A replay batch in flight stays pending in the stream; another gateway claims it if needed.
    })();
    return this.closing;
  }

  /** Whether `work` succeeded within `ms` (false when it failed or ran out of time). */
  private within(ms: number, work: Promise<unknown>, what: string): Promise<boolean> {
    return withTimeout(work, ms, what).then(
      () => true,
      () => false,
    );
  }

}
