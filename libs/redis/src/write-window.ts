/**
 * Writes to Redis grouped over a short window of time, not only within one turn of the event
 * loop. On loopback a Redis write costs a syscall and the kernel's TCP work for both ends (tens
 * of µs); at 1k msg/s every message is its own turn, so per-turn batching left the gateway one
 * write-ahead log write, one log trim and one ack script per message, and ingest one event outbox
 * append per request.
 *
 * Like Nagle's algorithm: a write asked for when the last one ran `windowMs` or more ago runs at
 * the next turn (an isolated message waits for nothing); otherwise it runs `windowMs` after the
 * last one, taking everything asked for meanwhile. A write is never delayed more than `windowMs`,
 * and a window of 0 is today's per-turn batching.
 */
import { performance } from 'node:perf_hooks';

export class WriteWindow {
  private lastRun = -Infinity;
  private timer?: NodeJS.Timeout;
  private immediate?: NodeJS.Immediate;
  private closed = false;

  /** `run` takes everything waiting; it is called at most once per `windowMs`. */
  constructor(private readonly windowMs: number, private readonly run: () => void) {}

  /** Ask for a run (idempotent while one is scheduled). */
  schedule(): void {
    if (this.timer !== undefined || this.immediate !== undefined || this.closed) return;
    const wait = this.lastRun + this.windowMs - performance.now();
    if (wait <= 0) this.immediate = setImmediate(this.fire);
    else this.timer = setTimeout(this.fire, wait);
  }

  /** Run now whatever waits (shutdown, flush), cancelling the scheduled run. */
  flushNow(): void {
    this.cancel();
    this.fire();
  }

  /** No more runs (idempotent). */
  close(): void {
    this.closed = true;
    this.cancel();
  }

  private cancel(): void {
    clearTimeout(this.timer);
    clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.immediate = undefined;
    this.lastRun = performance.now();
    this.run();
  };
}
