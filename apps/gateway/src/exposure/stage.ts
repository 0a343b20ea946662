/**
 * What the exposure stages (wal-writer, publish-pump, spill-replayer) share: the event on its way
 * to Pub/Sub, the retry backoff, and the close helper.
 */
import { EVENT_SEPARATOR } from '@herald/redis';

/**
 * A push waiting for its event to be logged: called once the event is in the log (or the log gave
 * up), it writes the frame, false if the session went away. A session hands itself
 * (`sendLogged()`, the oldest of its pushes waiting: delivery/logged-pushes.ts) instead of a
 * closure per push.
 */
export type Send = (() => boolean) | { sendLogged(): boolean };

/** Let a push waiting for the log go; false when its frame did not go out. */
export function letGo(send: Send): boolean {
  return typeof send === 'function' ? send() : send.sendLogged();
}

/** Batch number of an event that is not in this process's log (replayed from the spill, or unlogged). */
export const UNLOGGED = 0;

/**
 * Events on their way to Pub/Sub, and the log batch that holds them: one event's JSON, or
 * `count` of them one per line (the exposures the log packed together, wal-writer.ts; JSON never
 * holds a raw line break). They travel, are published and settle together. Packed exposures are
 * UTF-8 bytes (a view of their log batch's, push-lines.ts); a string is an event with a kind, or
 * an event read back from the spill.
 */
export interface Pending {
  data: string | Buffer;
  batch: number;
  /** How many events `data` holds. */
  count: number;
}


/** Events' JSON packed into one Pending's data: one per line. */
export function packLines(lines: readonly string[]): string {
  return lines.length === 1 ? lines[0] : lines.join(EVENT_SEPARATOR);
}

/** A Pending's data as text. */
export function textOf(data: string | Buffer): string {
  return typeof data === 'string' ? data : data.toString();
}

/** A Pending's events' JSON, one string each. */
function linesOf(event: Pending): string[] {
  const text = textOf(event.data);
  return event.count === 1 ? [text] : text.split(EVENT_SEPARATOR);
}

/** A Pending of one event. */
export function single(data: string, batch: number): Pending {
  return { data, batch, count: 1 };
}

/** The events of a Pending, one each, as strings (the spill keeps one event per entry). */
export function singles(event: Pending): Pending[] {
  if (event.count === 1 && typeof event.data === 'string') return [event];
  return linesOf(event).map((data) => single(data, event.batch));
}

/** The events of `event` whose flag is set, packed again. */
export function keptLines(event: Pending, kept: readonly boolean[]): string {
  return packLines(linesOf(event).filter((_, i) => kept[i]));
}

/** How many events the Pendings hold. */
export function countOf(events: ReadonlyArray<{ readonly count: number }>): number {
  let n = 0;
  for (const event of events) n += event.count;
  return n;
}

/** Takes the queue's head off it: Pendings of at most `max` events in all (one at least, however many it holds). */
export function takeHead(queue: Pending[], max: number): Pending[] {
  let take = 0;
  let events = 0;
  while (take < queue.length && (take === 0 || events + queue[take].count <= max)) events += queue[take++].count;
  return queue.splice(0, take);
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
