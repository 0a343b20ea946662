/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"):
 * the delay is uniform in [0, min(max, initial * 2^attempt)). Full jitter spreads a crowd of
 * clients that lost the same server over the whole window instead of sending them back together.
 */
export interface BackoffOptions {
  /** Upper bound of the first delay. @default 500 */
  initialDelayMs: number;
  /** Upper bound of any delay. @default 30000 */
  maxDelayMs: number;
}

/** @param attempt 0 for the first retry after a connection that worked */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  // 2^attempt overflows to Infinity long after the cap matters; min() keeps it finite.
  const ceiling = Math.min(opts.maxDelayMs, opts.initialDelayMs * 2 ** Math.min(attempt, 52));
  return Math.floor(random() * ceiling);
}
