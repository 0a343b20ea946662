/**
 * Publishes an exposure event for every message pushed, without losing one when Pub/Sub is slow
 * or down, or when the gateway dies.
 *
 * - Write-ahead: `record()` serializes the event and holds the push. Once per turn of the event
 *   loop the held events go to this process's write-ahead log in Redis (libs/redis exposure-wal)
 *   in one command; when Redis has them, the frames are written to the sockets. A gateway killed
 *   outright leaves its log behind, and another gateway moves it to the spill after
 *   EXPOSURE_SPILL_CLAIM_MS. One log write is in flight at a time, so pushes keep their order.
 * - A pump hands the logged events to the Pub/Sub client's batcher (EXPOSURE_BATCH_MAX_MESSAGES /
 *   EXPOSURE_BATCH_MAX_MS); a log batch is deleted once all its events are published or spilled.
 * - Memory is bounded: at most `bufferMax` events are queued or being published. When Pub/Sub
 *   stalls and the bound is reached, the publisher starts SPILLING: every new event is appended
 *   to a Redis stream (libs/redis exposure-spill) instead, so arrival order is kept.
 * - A publish that fails goes back to the head of the queue and is retried with backoff.
 * - Once the memory queue has drained (Pub/Sub takes events again), the spill is replayed, oldest
 *   first, in batches: published, then acknowledged and deleted. When it is empty, new events go
 *   to memory again. Any gateway replays any gateway's spill; entries a dead gateway was replaying
 *   are claimed after EXPOSURE_SPILL_CLAIM_MS. A gateway starts in replay mode if the spill holds
 *   anything, and checks for leftovers (and dead gateways' logs) on the same period.
 * - `close()` flushes under a deadline; what Pub/Sub has not taken by half the deadline is
 *   spilled (events still in a publish call too: the consumer drops the duplicate if that call
 *   succeeds after all). If even that fails, the log stays for another gateway to rescue.
 * - If Redis is down, pushes wait for the log (delivery needs Redis anyway); past `bufferMax`
 *   waiting pushes, they go out unlogged and their events wait in memory, as without a log.
 */
import { randomUUID } from 'node:crypto';
import type { Topic } from '@google-cloud/pubsub';
import type { ExposureEvent } from '@herald/types';
import type { Logger } from '@herald/logger';
import {
  ackSpill,
  beatWal,
  dropWalBatches,
  ensureSpillGroup,
  readSpill,
  rescueStaleWals,
  retireWal,
  spillExposures,
  spillLength,
  writeWalBatch,
  type HeraldRedis,
} from '@herald/redis';
import type { GatewayMetrics } from './metrics';

const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 5_000;
/** Batch number of an event that is not in this process's log (replayed from the spill, or unlogged). */
const UNLOGGED = 0;

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
  metrics: GatewayMetrics;
  logger: Logger;
}

/** A push waiting for its event to be logged: `send` writes the frame, false if the session went away. */
export type Send = () => boolean;

/** An event on its way to Pub/Sub, and the log batch that holds it. */
interface Pending {
  data: string;
  batch: number;
}

export class ExposurePublisher {
  /** This process's write-ahead log (a gateway id may be shared by replicas; a process's is not). */
  readonly walId: string;
  /** Events waiting to be logged, and their pushes. */
  private toLog: string[] = [];
  private sends: Send[] = [];
  /** Events in the log write on its way (0: none is). */
  private logging = 0;
  private logScheduled = false;
  private logFailures = 0;
  private nextBatch = 1;
  /** Events of each logged batch not yet published or spilled. */
  private readonly batchLeft = new Map<number, number>();
  private settledBatches: number[] = [];
  private dropScheduled = false;
  /** Serialized events waiting to be handed to the client, oldest first. */
  private queue: Pending[] = [];
  /** Events handed to the client and not yet settled. */
  private readonly inflight = new Set<Pending[]>();
  private inflightCount = 0;
  /** New events go to the spill while this is set (see the header). */
  private spilling = false;
  private spillBuffer: Pending[] = [];
  private spillWriting?: Promise<void>;
  private replaying?: Promise<void>;
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
    // Registered before the first batch is written (same connection, so in that order).
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

  /** Rescue dead gateways' logs; if the spill holds anything, switch to spilling and replay it. */
  private async checkLeftovers(): Promise<void> {
    if (this.closed) return;
    try {
      const rescued = await rescueStaleWals(this.opts.redis, this.walId, this.opts.claimIdleMs);
      if (rescued > 0) {
        this.opts.metrics.exposures.inc({ outcome: 'rescued' }, rescued);
        this.opts.logger.warn({ events: rescued }, "moved a stopped gateway's exposure log to the spill");
      }
      if (this.spilling || this.replaying) return;
      if ((await spillLength(this.opts.redis)) === 0) return;
    } catch (err) {
      this.opts.logger.debug({ err }, 'could not check for exposure leftovers');
      return;
    }
    if (this.closed || this.spilling || this.replaying) return;
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
   * `send` writes the frame once the event is logged (in this turn's batch, in order). Returns at
   * once. The event is the Contract's exposure JSON, written out directly: no object per push.
   */
  record(
    messageId: string,
    category: string | null,
    sessionPart: string,
    via: ExposureEvent['via'],
    send: Send,
    deliveredAt = new Date().toISOString(),
  ): void {
    this.toLog.push(
      `{"eventId":"${randomUUID()}","messageId":${JSON.stringify(messageId)},"category":${JSON.stringify(category)},` +
        `${sessionPart},"deliveredAt":"${deliveredAt}","via":"${via}"}`,
    );
    this.sends.push(send);
    this.scheduleLog();
  }

  /** Events in memory (waiting for the log, queued, being published, or waiting to be spilled). */
  get outstanding(): number {
    return this.toLog.length + this.logging + this.queue.length + this.inflightCount + this.spillBuffer.length;
  }

  private scheduleLog(): void {
    if (this.logScheduled || this.logging > 0) return;
    this.logScheduled = true;
    setImmediate(() => {
      this.logScheduled = false;
      this.writeLog();
    });
  }

  /** Log what waits as one batch, then let its pushes go out; one write at a time keeps order. */
  private writeLog(): void {
    if (this.logging > 0 || this.toLog.length === 0) return;
    const events = this.toLog;
    const sends = this.sends;
    this.toLog = [];
    this.sends = [];
    const batch = this.nextBatch++;
    this.logging = events.length;
    writeWalBatch(this.opts.log, this.walId, batch, events).then(
      () => {
        this.logFailures = 0;
        this.logging = 0;
        this.release(batch, events, sends);
        this.writeLog();
      },
      (err: unknown) => {
        this.logging = 0;
        this.logFailures++;
        if (this.logFailures === 1 || this.logFailures % 10 === 0) {
          this.opts.logger.warn({ err, events: events.length }, 'writing the exposure log failed; pushes wait and retry');
        }
        if (events.length + this.toLog.length > this.opts.bufferMax) {
          // Redis has been gone long enough for the bound: deliver, keep the events in memory.
          this.opts.logger.error({ events: events.length }, 'exposure log unavailable: pushing without it');
          this.release(UNLOGGED, events, sends);
        } else {
          this.toLog = events.concat(this.toLog);
          this.sends = sends.concat(this.sends);
        }
        const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(this.logFailures - 1, 10));
        setTimeout(() => this.writeLog(), delay).unref();
      },
    );
  }

  /** The batch is logged: write the frames, and send the events of the pushes that happened on. */
  private release(batch: number, events: string[], sends: Send[]): void {
    let kept = 0;
    for (let i = 0; i < events.length; i++) {
      if (!sends[i]()) continue;
      kept++;
      this.accept({ data: events[i], batch });
    }
    if (batch === UNLOGGED) return;
    if (kept === 0) this.batchSettled(batch);
    else this.batchLeft.set(batch, kept);
  }

  /** An event is in Pub/Sub or in the spill: its log batch may go. */
  private settled(event: Pending): void {
    if (event.batch === UNLOGGED) return;
    const left = (this.batchLeft.get(event.batch) ?? 1) - 1;
    if (left > 0) this.batchLeft.set(event.batch, left);
    else {
      this.batchLeft.delete(event.batch);
      this.batchSettled(event.batch);
    }
  }

  private batchSettled(batch: number): void {
    this.settledBatches.push(batch);
    if (this.dropScheduled) return;
    this.dropScheduled = true;
    setImmediate(() => {
      this.dropScheduled = false;
      const batches = this.settledBatches;
      this.settledBatches = [];
      // A batch that stays is published again if this process dies; the consumer dedupes.
      dropWalBatches(this.opts.log, this.walId, batches).catch((err: unknown) =>
        this.opts.logger.debug({ err }, 'could not trim the exposure log'),
      );
    });
  }

  private accept(event: Pending): void {
    if (!this.spilling && this.queue.length + this.inflightCount >= this.opts.bufferMax) {
      this.spilling = true;
      this.opts.logger.warn({ buffered: this.outstanding }, 'exposure buffer full: spilling to Redis until Pub/Sub catches up');
    }
    if (this.spilling) this.toSpill([event]);
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
      } else this.settled(batch[i]);
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

  private toSpill(events: Pending[]): void {
    for (const event of events) this.spillBuffer.push(event);
    this.spillWriting ??= this.writeSpill().finally(() => (this.spillWriting = undefined));
  }

  /** Write the spill buffer to Redis until it is empty; on failure keep it (bounded) and retry. */
  private async writeSpill(): Promise<void> {
    while (this.spillBuffer.length > 0) {
      const batch = this.spillBuffer.splice(0, this.opts.batchMax);
      try {
        await spillExposures(
          this.opts.redis,
          batch.map((event) => event.data),
        );
        this.opts.metrics.exposures.inc({ outcome: 'spilled' }, batch.length);
        for (const event of batch) this.settled(event);
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
      const events = entries.map((e): Pending => ({ data: e.data, batch: UNLOGGED }));
      const failed = new Set(await this.publish(events, true));
      const done = entries.filter((_, i) => !failed.has(events[i])).map((e) => e.id);
      await ackSpill(this.opts.redis, done);
      this.opts.metrics.exposures.inc({ outcome: 'replayed' }, done.length);
      if (failed.size > 0) {
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
   * events) and wait for that write until the deadline. When everything is published or spilled
   * the log is removed; otherwise it stays, and another gateway rescues it once this one's
   * heartbeat has stopped.
   */
  close(timeoutMs: number): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.sweep);
      const flushed = await this.within(timeoutMs / 2, this.flush());
      this.closed = true;
      clearTimeout(this.retryTimer);
      clearInterval(this.heartbeat);
      let safe = flushed;
      if (!flushed) {
        const left = [...this.queue, ...[...this.inflight].flat(), ...this.spillBuffer.splice(0)].map((event) => event.data);
        this.queue = [];
        this.opts.logger.warn({ events: left.length }, 'Pub/Sub did not take every exposure event before shutdown; spilling them');
        safe = await this.within(
          timeoutMs / 2,
          spillExposures(this.opts.redis, left).then(() => this.opts.metrics.exposures.inc({ outcome: 'spilled' }, left.length)),
        );
        if (!safe) {
          this.opts.logger.error(
            { events: left.length },
            'exposure events not published before the deadline; they stay in the exposure log for another gateway',
          );
        }
      }
      // Pushes that never got their log write did not happen (their sessions are closed).
      if (safe) await this.within(timeoutMs / 4, retireWal(this.opts.redis, this.walId));
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
