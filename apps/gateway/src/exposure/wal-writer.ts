/**
 * Stage 1 of the exposure path: the write-ahead log. The events of the pushes of one write window
 * (EXPOSURE_LOG_WINDOW_MS, libs/redis write-window.ts; 0: of one turn) are written to this process's log
 * in Redis (libs/redis exposure-wal) in one command, and the frames go out once it is there: the
 * order barrier before the socket write. One write is in flight at a time, so pushes keep their
 * order. What the log still needs once the frames are out (events left per batch, the frames
 * kept, the trimming of settled batches) is the ledger's (wal-ledger.ts). The log's heartbeat (by
 * Redis's clock) says the process is alive.
 *
 * Delivery comes first: a push never waits more than `waitMs` for its log write. When the write
 * fails (Redis out of memory, unreachable) or takes longer, the frames go out at once and their
 * events go on unlogged (counted `unlogged`): still published, but lost if the process dies
 * before. After a failure the log is skipped for a backoff, then tried again.
 *
 * Exposures recorded one after another are packed as they come (`addPacked`): up to `packMax`
 * of them, one per line, make one entry of the batch, and travel on as one Pending (stage.ts),
 * published as one Pub/Sub message (the events topic's format). A category message's thousands
 * of exposures are a few hundred entries on their way to Pub/Sub, not thousands of them held
 * until Pub/Sub answers (docs/BENCHMARKS.md, "Exposures packed in the log"). They come as their
 * parts (push-lines.ts) and are written once, into the batch's own bytes: the log's command is
 * framed around them, and each packed entry goes on as a view of them. Once every event of a batch
 * is published or spilled, its frame serves a later batch.
 */
import { beatWal, prepareWalBatch, retireWal, sendWalBatch, WriteWindow, type HeraldRedis } from '@herald/redis';
import type { Logger } from '@herald/logger';
import type { GatewayMetrics } from '../metrics';
import { inBurst } from '../frames/write-burst';
import { batchBytes, lineBytes, PushRun, writeBatch } from './push-lines';
import { backoffMs, keptLines, letGo, runEvery, UNLOGGED, type Pending, type Send } from './stage';
import { WalLedger } from './wal-ledger';

/** Runs kept to be filled again, at most (a broadcast to 20,000 sessions packs ~200 at 100 a run). */
const SPARE_RUNS_MAX = 256;

export interface WalWriterOptions {
  /** The log's own connection (role `log`): a push waits for it, behind no auto-pipeline. */
  redis: HeraldRedis;
  /** The connection for the registry (heartbeat, retire). */
  registry: HeraldRedis;
  walId: string;
  /** EXPOSURE_LOG_WAIT_MS. */
  waitMs: number;
  /** EXPOSURE_LOG_WINDOW_MS: log writes at least this far apart (0: one per turn). */
  windowMs: number;
  /** Exposures packed into one entry, at most (EVENTS_PER_PUBSUB_MESSAGE; 1: none packed). */
  packMax: number;
  /** Characters of one packed entry, at most (a Pub/Sub message's: EVENTS_MESSAGE_MAX_CHARS). */
  packMaxChars: number;
  /** The heartbeat's period, ms (a third of EXPOSURE_SPILL_CLAIM_MS). */
  beatEveryMs: number;
  /** The process's clock (shifted by HERALD_TEST_CLOCK_OFFSET_MS in the clock-skew test). */
  now: () => number;
  metrics: GatewayMetrics;
  logger: Logger;
  /** Events whose frames went out, in push order; `batch` is UNLOGGED when they are not in the log. */
  onSent(event: Pending): void;
}

/** One log write and the pushes waiting for it, as giveUp() takes them. */
interface Flight {
  events: Array<string | Buffer>;
  counts: number[];
  sends: Send[];
  /** Released: logged, or given up. */
  done: boolean;
}

export class WalWriter {
  /** Entries waiting to be logged: an event's JSON, or exposures packed one per line. */
  private toLog: Array<string | PushRun> = [];
  /** How many events each entry of toLog holds. */
  private counts: number[] = [];
  /** The pushes of the events waiting (the open run's too), one per event, in order. */
  private sends: Send[] = [];
  /** Exposures added since the last entry, to be packed into the next one. */
  private run: PushRun | null = null;
  /** Runs written into a batch, to be filled again (push-lines.ts). */
  private readonly spareRuns: PushRun[] = [];
  /** Events in the log write being waited for (0: none is). */
  private logging = 0;
  private readonly window: WriteWindow;
  private failures = 0;
  /** Until then (after a failure) pushes go out without trying the log. */
  private skipUntil = 0;
  private retryTimer?: NodeJS.Timeout;
  private nextBatch = 1;
  /** The logged batches until their events are safe elsewhere, and the frames they hold. */
  private readonly ledger: WalLedger;
  private readonly heartbeat: NodeJS.Timeout;
  private closing?: Promise<void>;

  constructor(private readonly opts: WalWriterOptions) {
    this.window = new WriteWindow(opts.windowMs, () => this.write());
    this.ledger = new WalLedger({ redis: opts.redis, walId: opts.walId, logger: opts.logger });
    // Registered before the first batch is written (the heartbeat is stamped by Redis's clock).
    const beat = () =>
      beatWal(opts.registry, opts.walId).catch((err: unknown) => opts.logger.debug({ err }, 'exposure log heartbeat failed'));
    void beat();
    this.heartbeat = setInterval(beat, Math.max(50, opts.beatEveryMs));
    this.heartbeat.unref();
  }

  /** Events waiting for the log (their pushes are held). */
  get waiting(): number {
    return this.sends.length + this.logging;
  }

  /** An event that goes alone (one with a kind: it is published with its kind's others). */
  add(event: string, send: Send): void {
    this.closeRun();
    this.toLog.push(event);
    this.counts.push(1);
    this.queued(send);
  }

  /**
   * An exposure, as its parts (push-lines.ts: `head` holds the ids' prefix, `counter` is its id's):
   * packed with the exposures added before and after it.
   */
  addPacked(head: Buffer, counter: number, middle: Buffer, tail: Buffer, send: Send): void {
    let { run } = this;
    if (run !== null && (run.head !== head || run.bytes + 1 + lineBytes(head, middle, tail) > this.opts.packMaxChars)) {
      this.closeRun();
      run = null;
    }
    if (run === null) run = this.run = this.spareRuns.pop()?.reuse(head) ?? new PushRun(head);
    run.add(counter, middle, tail);
    if (run.count >= this.opts.packMax) this.closeRun();
    this.queued(send);
  }

  private queued(send: Send): void {
    this.sends.push(send);
    // While a write is in flight, its answer schedules the next one.
    if (this.logging === 0) this.window.schedule();
  }

  /** The exposures added since the last entry, packed into one. */
  private closeRun(): void {
    const { run } = this;
    if (run === null) return;
    this.toLog.push(run);
    this.counts.push(run.count);
    this.run = null;
  }

  /** Log what waits as one batch, then let its pushes go out; a push waits `waitMs` at most. */
  private write(): void {
    if (this.logging > 0) return;
    this.closeRun();
    if (this.toLog.length === 0) return;
    const entries = this.toLog;
    const counts = this.counts;
    const sends = this.sends;
    this.toLog = [];
    this.counts = [];
    this.sends = [];
    const bytes = batchBytes(entries);
    if (this.opts.now() < this.skipUntil) {
      const events = writeBatch(entries, Buffer.allocUnsafe(bytes));
      this.spare(entries);
      this.release(UNLOGGED, events, counts, sends);
      return;
    }
    const batch = this.nextBatch++;
    let frame: Buffer | undefined;
    const prepared = prepareWalBatch(this.opts.walId, batch, bytes, (n) => (frame = this.ledger.frame(n)));
    const flight: Flight = { events: writeBatch(entries, prepared.data), counts, sends, done: false };
    this.spare(entries);
    this.logging = sends.length;
    // After a stall of the event loop, timers run before the I/O callbacks that would have
    // delivered Redis's answer: give up one turn later (setImmediate runs after them).
    const timer = setTimeout(
      () =>
        setImmediate(() => {
          if (!flight.done) this.giveUp(flight, undefined, `the exposure log write took over ${this.opts.waitMs} ms; pushing without it (EXPOSURE_LOG_WAIT_MS)`);
        }),
      this.opts.waitMs,
    );
    sendWalBatch(this.opts.redis, prepared).then(
      () => {
        // Written after its pushes went out unlogged: their events are on their way anyway.
        if (flight.done) return this.ledger.batchSettled(batch);
        flight.done = true;
        clearTimeout(timer);
        this.failures = 0;
        this.logging = 0;
        if (frame) this.ledger.hold(batch, frame);
        this.release(batch, flight.events, counts, sends);
        if (this.sends.length > 0) this.window.schedule();
      },
      (err: unknown) => {
        if (flight.done) return;
        clearTimeout(timer);
        this.giveUp(flight, err, 'writing the exposure log failed; pushing without it');
      },
    );
  }

  /** Keep the runs among `entries` (their lines written into a batch) to be filled again. */
  private spare(entries: ReadonlyArray<string | PushRun>): void {
    for (const entry of entries) {
      if (this.spareRuns.length >= SPARE_RUNS_MAX) return;
      if (typeof entry !== 'string') this.spareRuns.push(entry);
    }
  }

  /** The log write of `flight` failed or took too long: its pushes go out unlogged, the log is skipped for a backoff. */
  private giveUp(flight: Flight, err: unknown, what: string): void {
    flight.done = true;
    this.logging = 0;
    this.failures++;
    const delay = backoffMs(this.failures);
    this.skipUntil = this.opts.now() + delay;
    // Whatever is held when the pause ends goes through the log again (or out without it).
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.write(), delay);
    this.retryTimer.unref();
    if (this.failures === 1 || this.failures % 10 === 0) {
      this.opts.logger.warn({ err, events: flight.sends.length, failures: this.failures, retryInMs: delay }, what);
    }
    this.release(UNLOGGED, flight.events, flight.counts, flight.sends);
    this.write();
  }

  /**
   * Write the frames (one burst: a socket's frames of the batch leave in one write), and pass on
   * the events of the pushes that happened: a packed entry whole when all its pushes did, else
   * the lines of those that did.
   */
  private release(batch: number, entries: Array<string | Buffer>, counts: number[], sends: Send[]): void {
    const { onSent } = this.opts;
    let kept = 0;
    let at = 0;
    inBurst(() => {
      for (let i = 0; i < entries.length; i++) {
        const count = counts[i];
        let sent = 0;
        let flags: boolean[] | undefined;
        for (let j = 0; j < count; j++) {
          if (letGo(sends[at + j])) sent++;
          else (flags ??= new Array<boolean>(count).fill(true))[j] = false;
        }
        at += count;
        kept += sent;
        const entry: Pending = { data: entries[i], batch, count };
        if (sent === count) onSent(entry);
        else if (sent > 0) onSent({ data: keptLines(entry, flags!), batch, count: sent });
      }
    });
    if (batch === UNLOGGED) {
      if (kept > 0) this.opts.metrics.exposures.inc({ outcome: 'unlogged' }, kept);
      return;
    }
    this.ledger.logged(batch, kept);
  }

  /** Events are in Pub/Sub or in the spill (or given up): once all of its are, a log batch may go. */
  settled(event: Pending): void {
    this.ledger.settled(event);
  }

  /** Remove the log: every event in it is published or spilled. */
  retire(): Promise<void> {
    return retireWal(this.opts.registry, this.opts.walId);
  }

  /**
   * Stop beating and retrying (idempotent). The log stays: retire() it once its events are safe,
   * or leave it for another gateway to rescue once the heartbeat is old.
   */
  close(): Promise<void> {
    this.closing ??= runEvery([
      () => clearInterval(this.heartbeat),
      () => clearTimeout(this.retryTimer),
      () => this.window.close(),
      () => this.ledger.close(),
    ]);
    return this.closing;
  }
}
