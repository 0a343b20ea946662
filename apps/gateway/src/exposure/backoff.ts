/**
 * The one retry delay of the exposure path (log writes, publishes, spill replays): exponential
 * from 100 ms, doubling per failure in a row, at most 5 s.
 */
const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 5_000;

/** Delay before the next attempt after `failuresInARow` (≥ 1) failures. */
export function retryDelayMs(failuresInARow: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(failuresInARow - 1, 10));
}
