/**
 * Single sends gathered over a short window of time (SEND_WINDOW_MS, libs/redis write-window.ts):
 * a send waits for its turn, and the sends of one window go in the same turn of the event loop,
 * so their commands leave in one auto-pipelined Redis write and their replies come back in one
 * read. At 1,000 requests a second each request is its own turn, and its round trip (a socket
 * write, a wake-up for the reply) cost about as much as the bare HTTP request (docs/BENCHMARKS.md,
 * "A request's floor").
 *
 * As with the other write windows: a send after a quiet spell goes at the next turn; later ones
 * wait at most `windowMs`. They go in the order they came (a user's messages keep ingest order).
 */
import { WriteWindow } from '@herald/redis';

export class SendWindow {
  private waiting: Array<() => void> = [];
  private readonly window?: WriteWindow;
  private closed = false;

  /** `windowMs` 0: no window, every send goes at once. */
  constructor(windowMs: number) {
    if (windowMs > 0) this.window = new WriteWindow(windowMs, () => this.release());
  }

  /** Resolves when a send may go; undefined when it may go at once (no window, or closed). */
  turn(): Promise<void> | undefined {
    const window = this.window;
    if (!window || this.closed) return undefined;
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      window.schedule();
    });
  }

  /** Let every waiting send go now; later ones go at once (shutdown). Idempotent. */
  close(): void {
    this.closed = true;
    this.window?.close();
    this.release();
  }

  private release(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const go of waiting) go();
  }
}
