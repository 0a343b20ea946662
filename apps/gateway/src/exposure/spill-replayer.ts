/**
 * Stage 3 of the exposure path: the spill, for events memory cannot hold. While `overflowing`
 * (memory reached EXPOSURE_BUFFER_MAX and has not come down to half of it since: the publisher
 * decides), every new event is appended to the Redis stream (spill-writer.ts) in arrival order.
 * Whenever memory has room (at most half the bound held) and the spill has a `backlog`, the
 * spill is replayed, oldest first, one batch at a time through the pump's publish (and its
 * shared backoff): published, then acknowledged and deleted, alongside the new events memory
 * publishes meanwhile. Only the overflow goes through Redis: a spill that waited until it was
 * empty before memory took new events again sent every event of a long burst through Redis
 * (docs/BENCHMARKS.md, "The spill takes the overflow only"). A replay that fails (Redis blip,
 * its consumer group gone) starts again with backoff and makes the group again.
 *
 * Any gateway replays any gateway's spill; entries a dead gateway was replaying are claimed after
 * EXPOSURE_SPILL_CLAIM_MS. On the same period (and at start) it rescues dead processes' logs into
 * the spill, and starts a replay if the spill holds anything.
 */
import type { Logger } from '@herald/logger';
import { ackSpill, ensureSpillGroup, readSpill, rescueStaleWals, spillLength, type HeraldRedis, type SpillBounds } from '@herald/redis';
import type { GatewayMetrics } from '../metrics';
import type { PublishPump } from './publish-pump';
import { SpillWriter } from './spill-writer';
import { backoffMs, countOf, runEvery, UNLOGGED, type Pending } from './stage';

export interface SpillReplayerOptions {
  redis: HeraldRedis;
  /** The replay group's consumer name (the gateway id). */
  consumer: string;
  /** This process's own log, never rescued by itself. */
  walId: string;
  /** Events read from the spill per replay step (entries, packed or not), and appended per spill write. */
  batchMax: number;
  /** Events waiting to be appended while Redis refuses, at most. */
  waitingMax: number;
  /** EXPOSURE_SPILL_CLAIM_MS: the sweep's period too. */
  claimIdleMs: number;
  /** EXPOSURE_SPILL_MAX_EVENTS and EXPOSURE_SPILL_MAX_AGE_MS. */
  bounds: SpillBounds;
  pump: PublishPump;
  metrics: GatewayMetrics;
  logger: Logger;
  /** An event is in the spill, or given up: its log batch may go. */
  settled(event: Pending): void;
  /** A replay ended. */
  replayed(): void;
}

export class SpillReplayer {
  private overflow = false;
  private pendingReplay = false;
  private readonly writer: SpillWriter;
  private replaying?: Promise<void>;
  private replayFailures = 0;
  private replayTimer?: NodeJS.Timeout;
  private groupReady?: Promise<void>;
  private readonly sweep: NodeJS.Timeout;
  private closed = false;
  private closing?: Promise<void>;
  /**
   * Entries read per replay step: about `batchMax` events, by the last step's entries (an entry
   * holds one event, or up to EVENTS_PER_PUBSUB_MESSAGE packed); one to begin with.
   */
  private readCount = 1;

  constructor(private readonly opts: SpillReplayerOptions) {
    this.writer = new SpillWriter({
      redis: opts.redis,
      bounds: opts.bounds,
      batchMax: opts.batchMax,
      waitingMax: opts.waitingMax,
      metrics: opts.metrics,
      logger: opts.logger,
      settled: opts.settled,
      closed: () => this.closed,
    });
    // Leftovers of any gateway (a dead one's log, a spill that was not replayed, a replay that
    // died) get picked up.
    this.sweep = setInterval(() => void this.checkLeftovers(), opts.claimIdleMs);
    this.sweep.unref();
    void this.checkLeftovers();
  }

  /** Events waiting to be appended to the spill. */
  get waiting(): number {
    return this.writer.waiting;
  }

  /** New events go to the spill (startOverflowing, until stopOverflowing). */
  get overflowing(): boolean {
    return this.overflow;
  }

  /** The spill may hold events to replay: set by a spill or a sweep that found some, cleared by a replay that found none. */
  get backlog(): boolean {
    return this.pendingReplay;
  }

  /** Something to replay, being appended or being replayed. */
  get active(): boolean {
    return this.pendingReplay || this.replaying !== undefined || this.writer.writing !== undefined;
  }

  /** Spill new events from now on (memory is full), until stopOverflowing(). */
  startOverflowing(buffered: number): void {
    if (this.overflow) return;
    this.overflow = true;
    this.pendingReplay = true;
    this.opts.logger.warn({ buffered }, 'exposure buffer full: spilling to Redis until Pub/Sub catches up');
  }

  /** Memory has room again: new events go there; what was spilled is replayed alongside. */
  stopOverflowing(): void {
    if (!this.overflow) return;
    this.overflow = false;
    this.opts.logger.debug('exposure buffer has room again: new events go to memory; the spill is replayed alongside');
  }

  add(event: Pending): void {
    this.pendingReplay = true;
    this.writer.add(event);
  }

  /** Takes the events waiting to be appended away (shutdown appends them with the rest). */
  takeWaiting(): Pending[] {
    return this.writer.takeAll();
  }

  /** Appends events at once (shutdown); rejects when Redis refuses. */
  append(events: ReadonlyArray<Pending | string>): Promise<void> {
    return this.writer.append(events);
  }

  /** Stop looking for leftovers (shutdown begins: no rescue of others' logs now). */
  stopSweeping(): void {
    clearInterval(this.sweep);
  }

  /** Rescue dead processes' logs; if the spill holds anything (or a replay is due), replay it. */
  private async checkLeftovers(): Promise<void> {
    if (this.closed) return;
    const { redis, walId, claimIdleMs, metrics, logger } = this.opts;
    try {
      const rescued = await rescueStaleWals(redis, walId, claimIdleMs);
      if (rescued > 0) {
        metrics.exposures.inc({ outcome: 'rescued' }, rescued);
        logger.warn({ events: rescued }, "moved a stopped gateway's exposure log to the spill");
      }
      if (this.replaying) return;
      if (!this.pendingReplay && (await spillLength(redis)) === 0) return;
    } catch (err) {
      logger.debug({ err }, 'could not check for exposure leftovers');
      return;
    }
    if (this.closed || this.replaying) return;
    this.pendingReplay = true;
    this.replay();
  }

  /** Replay the spill while memory has room; a no-op while one runs or memory is above half its bound. */
  replay(): void {
    if (this.replaying || this.closed || !this.opts.pump.hasRoom) return;
    clearTimeout(this.replayTimer);
    this.replayTimer = undefined;
    this.replaying = this.run()
      .then(
        () => {
          this.replayFailures = 0;
        },
        (err: unknown) => this.failed(err),
      )
      .finally(() => {
        this.replaying = undefined;
        this.opts.replayed();
      });
  }

  /**
   * A replay threw (a Redis blip; NOGROUP: its group was destroyed, or the stream deleted and made
   * again): start again after a backoff, making the group again, for as long as there is a spill.
   */
  private failed(err: unknown): void {
    this.replayFailures++;
    this.groupReady = undefined;
    const delay = backoffMs(this.replayFailures);
    if (this.replayFailures === 1 || this.replayFailures % 10 === 0) {
      this.opts.logger.warn({ err, failures: this.replayFailures, retryInMs: delay }, 'replaying spilled exposure events failed; retrying');
    }
    if (this.closed) return;
    this.replayTimer = setTimeout(() => {
      this.replayTimer = undefined;
      if (this.pendingReplay) this.replay();
    }, delay);
    this.replayTimer.unref();
  }

  private async run(): Promise<void> {
    const { redis, consumer, batchMax, claimIdleMs, pump, metrics, logger } = this.opts;
    this.groupReady ??= ensureSpillGroup(redis).catch((err: unknown) => {
      this.groupReady = undefined;
      throw err;
    });
    await this.groupReady;
    for (;;) {
      if (this.closed) return;
      const entries = await readSpill(redis, consumer, this.readCount, claimIdleMs);
      if (entries.length > 0) this.readCount = Math.max(1, Math.min(batchMax, Math.floor((batchMax * entries.length) / countOf(entries))));
      if (entries.length === 0) {
        // Events on their way into the stream are replayed in this run too.
        const writing = this.writer.writing;
        if (writing) {
          await writing;
          continue;
        }
        if (this.pendingReplay && !this.overflow) logger.info('exposure spill replayed; the spill is empty');
        this.pendingReplay = false;
        return;
      }
      this.pendingReplay = true;
      // An entry of packed exposures goes on packed (one Pub/Sub message).
      const events = entries.map(({ data, count }): Pending => ({ data, batch: UNLOGGED, count }));
      const failed = new Set(await pump.publish(events, true));
      const done = entries.filter((_, i) => !failed.has(events[i]));
      await ackSpill(redis, done);
      metrics.exposures.inc({ outcome: 'replayed' }, countOf(done));
      // Pub/Sub refuses again: the failed ones stay pending for us; try after the shared pause.
      if (failed.size > 0) await new Promise((resolve) => setTimeout(resolve, pump.pauseLeft()));
    }
  }

  /**
   * Stop sweeping, replaying and retrying appends (idempotent). A replay batch in flight stays
   * pending in the stream; another gateway claims it if needed.
   */
  close(): Promise<void> {
    this.closing ??= runEvery([
      () => {
        this.closed = true;
      },
      () => clearInterval(this.sweep),
      () => clearTimeout(this.replayTimer),
    ]);
    return this.closing;
  }
}
