/**
 * Spare buffers for a site that writes large buffers again and again (a command, a request):
 * a buffer given back once nothing refers to it any more is taken again by a later write of
 * about its size, instead of a new one each time.
 *
 * A new buffer each time costs more than its copy: fresh pages to fault in, and memory outside
 * the JavaScript heap that V8 counts until a full collection frees it. A broadcast's exposure log
 * batch (megabytes) and its publish requests (hundreds of KB each) live long enough to be
 * promoted, so that memory grows until V8's limit for it, which starts a full collection and has
 * every allocation of a buffer, each socket read's included, do a step of its marking
 * (docs/BENCHMARKS.md, "Buffers kept for the exposure log and its publish calls").
 *
 * Buffers come in powers of two from `minBytes`, so writes of about the same size fit the same
 * ones (past `maxBytes`, to size). At most `keep` are kept, the largest; none larger than
 * `maxBytes`. With `idleMs`, all of them are let go once no buffer has been taken or given back
 * for that long: a pool sized for a burst does not hold its memory while the process idles.
 */

export interface SparePoolOptions {
  /** How many spare buffers are kept, at most. */
  keep: number;
  /** The smallest buffer made (a power of two). Default 4 KB. */
  minBytes?: number;
  /** A buffer larger than this is let go rather than kept. Default 16 MB. */
  maxBytes?: number;
  /** Let every spare go after this long without a take or a give-back (0, the default: never). */
  idleMs?: number;
}

const DEFAULT_MIN_BYTES = 4096;
const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;

export class SparePool {
  /** Kept buffers, smallest first. */
  private readonly spares: Buffer[] = [];
  private readonly keep: number;
  private readonly minBytes: number;
  private readonly maxBytes: number;
  private readonly idleMs: number;
  private idleTimer?: NodeJS.Timeout;
  /** When a buffer was last taken or given back (performance.now()). */
  private usedAt = 0;

  constructor(options: SparePoolOptions) {
    this.keep = options.keep;
    this.minBytes = options.minBytes ?? DEFAULT_MIN_BYTES;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.idleMs = options.idleMs ?? 0;
  }

  /** Spare buffers kept now. */
  get size(): number {
    return this.spares.length;
  }

  /**
   * A buffer of at least `bytes`, the caller's until it gives it back: the smallest spare that
   * fits, or a new one (its contents are not zeroed).
   */
  take(bytes: number): Buffer {
    this.usedAt = performance.now();
    const { spares } = this;
    for (let i = 0; i < spares.length; i++) {
      if (spares[i].length >= bytes) return spares.splice(i, 1)[0];
    }
    const rounded = 2 ** Math.ceil(Math.log2(Math.max(bytes, this.minBytes)));
    // One that will not be kept is made to size.
    return Buffer.allocUnsafeSlow(rounded > this.maxBytes ? bytes : rounded);
  }

  /**
   * Nothing refers to `buffer` (from take()) any more: keep it for a later take, if it is among
   * the `keep` largest.
   */
  giveBack(buffer: Buffer): void {
    this.usedAt = performance.now();
    if (buffer.length > this.maxBytes || this.keep <= 0) return;
    const { spares } = this;
    if (spares.length >= this.keep) {
      if (spares[0].length >= buffer.length) return;
      spares.shift();
    }
    let at = spares.length;
    while (at > 0 && spares[at - 1].length > buffer.length) at--;
    spares.splice(at, 0, buffer);
    if (this.idleMs > 0 && !this.idleTimer) this.armIdle(this.idleMs);
  }

  /** Let every spare go now. */
  clear(): void {
    this.spares.length = 0;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private armIdle(ms: number): void {
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.spares.length === 0) return;
      const idle = performance.now() - this.usedAt;
      if (idle >= this.idleMs) this.spares.length = 0;
      else this.armIdle(this.idleMs - idle);
    }, ms);
    this.idleTimer.unref();
  }
}
