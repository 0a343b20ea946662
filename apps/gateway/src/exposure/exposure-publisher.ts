/**
 * Publishes an exposure event for every message pushed, without losing one when Pub/Sub is slow
 * or down, or when the gateway dies, and without ever holding a delivery up for long. The facade
 * the sessions and the gateway see; the work is done by three stages (docs/ARCHITECTURE.md):
 *
 * - exposure/wal-writer.ts: `record()` serializes the event (exposure/event-json.ts) and holds
 *   the push; once per turn the held events go to this process's write-ahead log in Redis, then
 *   the frames go out (at most EXPOSURE_LOG_WAIT_MS later). Its heartbeat says the process lives.
 * - exposure/publish-pump.ts: hands the events to Pub/Sub, at most EXPOSURE_BUFFER_MAX queued or
 *   in flight, failures retried after one shared backoff; a log batch is deleted once all its
 *   events are published or spilled.
 * - exposure/spill-replayer.ts: past the bound every new event goes to the bounded spill stream
 *   (arrival order kept) until memory is back at half the bound; the spill is replayed whenever
 *   memory has room, alongside new events; dead processes' logs are rescued into it.
 *
 * The gateway's other per-user events (engagement, `expired`: user-events.ts) take the same path
 * through `recordEvent()`, with no frame waiting on them.
 *
 * `close()` flushes under a deadline; what Pub/Sub has not taken by half the deadline is
 * spilled (events still in a publish call too: the consumer drops the duplicate if that call
 * succeeds after all). If even that fails, the log stays for another gateway to rescue.
 */
import { randomUUID } from 'node:crypto';
import { EVENTS_MESSAGE_MAX_CHARS, type BatchPublisher, type EventCompression } from '@herald/pubsub';
import type { ExposureEvent } from '@herald/types';
import type { Logger } from '@herald/logger';
import { withTimeout } from '@herald/http';
import type { HeraldRedis, SpillBounds } from '@herald/redis';
import type { GatewayMetrics } from '../metrics';
import { idHead, messageJson, pushMiddle, sessionJson, sessionTail } from './event-json';
import { EventIds } from './event-ids';
import { PublishPump } from './publish-pump';
import { SpillReplayer } from './spill-replayer';
import { countOf, runEvery, singles, type Pending, type Send } from './stage';
import { WalWriter } from './wal-writer';

export type { Send } from './stage';

/** An event with no frame to write: it always counts as sent. */
const ALWAYS_SENT = (): boolean => true;

export interface ExposurePublisherOptions {
  /** Pub/Sub's exposure topic (EXPOSURE_TOPIC). */
  publisher: Pick<BatchPublisher, 'publish'>;
  redis: HeraldRedis;
  /**
   * The write-ahead log's own connection (role `log`): a push waits for its log write, which must
   * not queue behind the auto-pipelined commands of the gateway's main connection.
   */
  log: HeraldRedis;
  gatewayId: string;
  /** This process's log id; default `<gatewayId>:<random UUID>` (tests place logs on chosen Cluster slots). */
  walId?: string;
  /** Events queued or being published, at most (EXPOSURE_BUFFER_MAX). */
  bufferMax: number;
  /** Events per publish call (EXPOSURE_BATCH_MAX_MESSAGES), and read from the spill per replay step. */
  batchMax: number;
  /** How long a publish call waits for its batch to fill (EXPOSURE_BATCH_MAX_MS). */
  batchWaitMs: number;
  /** Events packed into one Pub/Sub message, at most (EVENTS_PER_PUBSUB_MESSAGE). */
  eventsPerMessage: number;
  /** How packed messages are compressed (EVENTS_PUBSUB_COMPRESSION). */
  compression: EventCompression;
  /** EXPOSURE_SPILL_CLAIM_MS. */
  claimIdleMs: number;
  /** EXPOSURE_SPILL_MAX_EVENTS and EXPOSURE_SPILL_MAX_AGE_MS. */
  spill: SpillBounds;
  /** EXPOSURE_LOG_WAIT_MS. */
  logWaitMs: number;
  /** EXPOSURE_LOG_WINDOW_MS (default 0: one log write per turn). */
  logWindowMs?: number;
  /** HERALD_TEST_CLOCK_OFFSET_MS (tests only): this process's clock is that far off. */
  clockOffsetMs?: number;
  metrics: GatewayMetrics;
  logger: Logger;
}

export class ExposurePublisher {
  /** This process's write-ahead log (a gateway id may be shared by replicas; a process's is not). */
  readonly walId: string;
  private readonly now: () => number;
  private readonly wal: WalWriter;
  private readonly pump: PublishPump;
  private readonly replayer: SpillReplayer;
  private readonly idle: Array<() => void> = [];
  private closing?: Promise<void>;
  private readonly ids = new EventIds();
  /** The message last recorded, with its members' JSON. */
  private lastMessage: { id: string; category: string | null; json: string } = { id: '', category: null, json: '' };
  /** The last push's middle part (push-lines.ts) and what it was made of. */
  private lastMiddle = { message: '', deliveredAt: '', via: '', bytes: Buffer.alloc(0) };
  /** The id head of the ids' prefix (push-lines.ts). */
  private head = { prefix: '', bytes: Buffer.alloc(0) };

  constructor(private readonly opts: ExposurePublisherOptions) {
    this.walId = opts.walId ?? `${opts.gatewayId}:${randomUUID()}`;
    const offset = opts.clockOffsetMs ?? 0;
    this.now = offset === 0 ? Date.now : () => Date.now() + offset;
    const { metrics, logger } = opts;
    this.wal = new WalWriter({
      redis: opts.log,
      registry: opts.redis,
      walId: this.walId,
      waitMs: opts.logWaitMs,
      windowMs: opts.logWindowMs ?? 0,
      packMax: opts.eventsPerMessage,
      packMaxChars: EVENTS_MESSAGE_MAX_CHARS,
      beatEveryMs: Math.floor(opts.claimIdleMs / 3),
      now: this.now,
      metrics,
      logger,
      onSent: (event) => this.accept(event),
    });
    this.pump = new PublishPump({
      publisher: opts.publisher,
      bufferMax: opts.bufferMax,
      batchMax: opts.batchMax,
      batchWaitMs: opts.batchWaitMs,
      eventsPerMessage: opts.eventsPerMessage,
      compression: opts.compression,
      now: this.now,
      metrics,
      logger,
      settled: (event) => this.wal.settled(event),
      drained: () => {
        this.replayer.stopOverflowing();
        if (this.replayer.backlog) this.replayer.replay();
        else this.notifyIdle();
      },
    });
    this.replayer = new SpillReplayer({
      redis: opts.redis,
      consumer: opts.gatewayId,
      walId: this.walId,
      batchMax: opts.batchMax,
      waitingMax: opts.bufferMax * 2,
      claimIdleMs: opts.claimIdleMs,
      bounds: opts.spill,
      pump: this.pump,
      metrics,
      logger,
      settled: (event) => this.wal.settled(event),
      replayed: () => {
        if (!this.replayer.backlog && this.outstanding === 0) this.notifyIdle();
      },
    });
  }

  /**
   * The members of a session's exposure events that never change (user, session, gateway), as
   * the UTF-8 of the end of its events' JSON, built once per session (see record()).
   */
  sessionPart(userId: string, sessionId: string): Buffer {
    return Buffer.from(sessionTail(sessionJson({ userId, sessionId, gatewayId: this.opts.gatewayId })));
  }

  /**
   * Record that `messageId` is being pushed to a session (`sessionPart` from sessionPart());
   * `send` writes the frame once the event is logged (in this turn's batch, in order), or after
   * EXPOSURE_LOG_WAIT_MS at most. Returns at once.
   */
  record(
    messageId: string,
    category: string | null,
    sessionPart: Buffer,
    via: ExposureEvent['via'],
    send: Send,
    deliveredAt = this.ids.isoTime(this.now()),
  ): void {
    // A category message is recorded for many sessions in a row: its members are written once,
    // and the event is kept as its parts until the log writes it (push-lines.ts).
    if (messageId !== this.lastMessage.id || category !== this.lastMessage.category) {
      this.lastMessage = { id: messageId, category, json: messageJson({ messageId, category }) };
    }
    const middle = this.lastMiddle;
    if (middle.message !== this.lastMessage.json || middle.deliveredAt !== deliveredAt || middle.via !== via) {
      const bytes = Buffer.from(pushMiddle({ deliveredAt, via }, this.lastMessage.json));
      this.lastMiddle = { message: this.lastMessage.json, deliveredAt, via, bytes };
    }
    const counter = this.ids.take();
    const prefix = this.ids.idPrefix;
    if (prefix !== this.head.prefix) this.head = { prefix, bytes: Buffer.from(idHead(prefix)) };
    this.wal.addPacked(this.head.bytes, counter, this.lastMiddle.bytes, sessionPart, send);
  }

  /**
   * Record an event that goes with no push (an engagement, an `expired`: exposure/user-event-json.ts):
   * the same stages, the same guarantees as an exposure. Returns at once.
   */
  recordEvent(json: string): void {
    this.wal.add(json, ALWAYS_SENT);
  }

  /** The ISO-8601 time of now on this process's clock (an event's `at`). */
  isoNow(): string {
    return this.ids.isoTime(this.now());
  }

  /** Events in memory (waiting for the log, queued, being published, or waiting to be spilled). */
  get outstanding(): number {
    return this.wal.waiting + this.pump.held + this.replayer.waiting;
  }

  /** Events handed to the publisher and not answered yet: in a call, or waiting for one (from memory; replays not counted). */
  get publishing(): number {
    return this.pump.inFlight;
  }

  /**
   * Logged (or unlogged) events whose frames went out: to memory, or to the spill past the bound
   * (one event per entry there).
   */
  private accept(event: Pending): void {
    const { pump, replayer } = this;
    // Packed events that would cross the memory bound go one by one: it stays exact.
    if (event.count > 1 && !replayer.overflowing && event.count > pump.room) {
      for (const one of singles(event)) this.accept(one);
      return;
    }
    if (!replayer.overflowing) {
      if (pump.full) replayer.startOverflowing(this.outstanding);
    } else if (pump.hasRoom) replayer.stopOverflowing();
    // Packed exposures are spilled as they are: one entry for the lot.
    if (replayer.overflowing) replayer.add(event);
    else {
      pump.push(event);
      // What was spilled goes out alongside (a no-op while a replay runs or memory is busy).
      if (replayer.backlog) replayer.replay();
    }
  }

  private notifyIdle(): void {
    for (const resolve of this.idle.splice(0)) resolve();
  }

  /** Resolves when every recorded event has been accepted by Pub/Sub (spill replayed included). */
  async flush(): Promise<void> {
    while (this.outstanding > 0 || this.replayer.active) {
      this.pump.publishNow();
      await new Promise<void>((resolve) => {
        this.idle.push(resolve);
        setTimeout(resolve, 50);
      });
      if (this.replayer.backlog) this.replayer.replay();
    }
  }

  /**
   * Flush until half of `timeoutMs`; then spill what Pub/Sub has not taken (queued and in-flight
   * events) and wait for that write until the deadline. When everything is published or spilled
   * the log is removed; otherwise it stays, and another gateway rescues it once this one's
   * heartbeat has stopped. Idempotent.
   */
  close(timeoutMs: number): Promise<void> {
    this.closing ??= (async () => {
      this.replayer.stopSweeping();
      const flushed = await this.within(timeoutMs / 2, this.flush(), 'flushing exposure events');
      await runEvery([() => this.pump.close(), () => this.replayer.close(), () => this.wal.close()]).catch((err: unknown) =>
        this.opts.logger.warn({ err }, 'an exposure stage did not close cleanly'),
      );
      let safe = flushed;
      if (!flushed) {
        const left = [...this.pump.takeAll(), ...this.replayer.takeWaiting()];
        const events = countOf(left);
        this.opts.logger.warn({ events }, 'Pub/Sub did not take every exposure event before shutdown; spilling them');
        safe = await this.within(timeoutMs / 2, this.replayer.append(left), 'spilling exposure events');
        if (!safe) {
          this.opts.logger.error(
            { events },
            'exposure events not published before the deadline; they stay in the exposure log for another gateway',
          );
        }
      }
      // Pushes that never got their log write did not happen (their sessions are closed).
      if (safe) await this.within(timeoutMs / 4, this.wal.retire(), 'retiring the exposure log');
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
