/**
 * What the exposure stages (wal-writer, publish-pump, spill-replayer) share: the event on its way
 * to Pub/Sub, the retry backoff, and the close helper.
 */

/** A push waiting for its event to be logged: `send` writes the frame, false if the session went away. */
export type Send = () => boolean;

/** Batch number of an event that is not in this process's log (replayed from the spill, or unlogged). */
export const UNLOGGED = 0;

/** An event on its way to Pub/Sub (its JSON), and the log batch that holds it. */
export interface Pending {
  data: string;
  batch: number;
}

const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 5_000;

/** The pause after `failures` failures in a row: 100 ms, doubling, at most 5 s. */
export function backoffMs(failures: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(Math.max(failures, 1) - 1, 10));
}

/**
 * Runs every cleanup step in order, even when one throws or rejects, then rejects with the first
 * error (a stage's close() must not leave a timer running because an earlier step failed).
 */
export async function runEvery(steps: ReadonlyArray<() => unknown>): Promise<void> {
  const errors: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length > 0) throw errors[0];
}
