/**
 * What the exposure log still needs (wal-writer.ts writes it): the events of each logged batch not
 * yet published or spilled, the frame a batch's events are views of until it settles, and the
 * settled batches, deleted from the log every TRIM_WINDOW_MS at most. Not on the delivery path: a
 * batch not yet deleted when the process dies is published again (the consumer stores it once).
 */
import { SparePool } from '@herald/buffers';
import { dropWalBatches, WriteWindow, type HeraldRedis } from '@herald/redis';
import type { Logger } from '@herald/logger';
import { UNLOGGED, type Pending } from './stage';

/** Settled batches are deleted from the log at most this often. */
const TRIM_WINDOW_MS = 50;
/**
 * Log batches' frames kept for later batches, and how long they are kept without one (a
 * broadcast's batch is megabytes, alive until its last event is published: a new one each time
 * grew the memory outside the heap that V8 collects fully; docs/BENCHMARKS.md, "Buffers kept for
 * the exposure log and its publish calls").
 */
const FRAMES_KEPT = 2;
const FRAMES_IDLE_MS = 10_000;
/**
 * A batch smaller than this gets a frame of its own, as before (the small batches of a steady
 * rate come from Node's shared slabs, and many are unsettled at once).
 */
export const FRAME_KEPT_MIN_BYTES = 64 * 1024;

export interface WalLedgerOptions {
  /** The log's connection. */
  redis: HeraldRedis;
  walId: string;
  logger: Logger;
}

export class WalLedger {
  /** Events of each logged batch not yet published or spilled. */
  private readonly left = new Map<number, number>();
  private settledBatches: number[] = [];
  private readonly trimWindow: WriteWindow;
  private readonly frames = new SparePool({ keep: FRAMES_KEPT, minBytes: FRAME_KEPT_MIN_BYTES, idleMs: FRAMES_IDLE_MS });
  /**
   * The frame of each batch logged before its pushes went out, until the batch settles. A batch
   * whose pushes went out unlogged (the write failed or was late) keeps its frame to itself: its
   * events may still be on their way.
   */
  private readonly frameOf = new Map<number, Buffer>();

  constructor(private readonly opts: WalLedgerOptions) {
    this.trimWindow = new WriteWindow(TRIM_WINDOW_MS, () => this.trim());
  }

  /**
   * A frame for a batch of `bytes`: a kept one (or one to keep) from FRAME_KEPT_MIN_BYTES on, a
   * new one of its own below. Give it to `hold` once the batch is logged.
   */
  frame(bytes: number): Buffer {
    return bytes < FRAME_KEPT_MIN_BYTES ? Buffer.allocUnsafe(bytes) : this.frames.take(bytes);
  }

  /** The batch's events are views of `frame` (from frame()) until the batch settles; a kept one then serves another. */
  hold(batch: number, frame: Buffer): void {
    if (frame.length >= FRAME_KEPT_MIN_BYTES) this.frameOf.set(batch, frame);
  }

  /** A logged batch's pushes went out: `kept` of its events are on their way (none: it is settled). */
  logged(batch: number, kept: number): void {
    if (kept === 0) this.batchSettled(batch);
    else this.left.set(batch, kept);
  }

  /** Events are in Pub/Sub or in the spill (or given up): once all of its are, a log batch may go. */
  settled(event: Pending): void {
    if (event.batch === UNLOGGED) return;
    const left = (this.left.get(event.batch) ?? event.count) - event.count;
    if (left > 0) this.left.set(event.batch, left);
    else {
      this.left.delete(event.batch);
      this.batchSettled(event.batch);
    }
  }

  /** A batch all of whose events are safe elsewhere: its frame serves a later batch, its entry goes from the log. */
  batchSettled(batch: number): void {
    const frame = this.frameOf.get(batch);
    if (frame) {
      this.frameOf.delete(batch);
      this.frames.giveBack(frame);
    }
    this.settledBatches.push(batch);
    this.trimWindow.schedule();
  }

  private trim(): void {
    const batches = this.settledBatches;
    if (batches.length === 0) return;
    this.settledBatches = [];
    // A batch that stays is published again if this process dies; the consumer dedupes.
    dropWalBatches(this.opts.redis, this.opts.walId, batches).catch((err: unknown) =>
      this.opts.logger.debug({ err }, 'could not trim the exposure log'),
    );
  }

  /** Stop trimming; drop the kept frames. */
  close(): void {
    this.trimWindow.close();
    this.frames.clear();
  }
}
