/**
 * A session's pushes waiting for their exposure events' log write (exposure/wal-writer.ts), oldest
 * first. The log lets pushes go in the order they were recorded, so a session hands the log
 * itself, not a closure per push, and takes its oldest push from here when the log calls it
 * (Session.sendLogged).
 *
 * The oldest waits in fields, the others in an array made when a second one waits: a member of a
 * broadcast waits with one push and costs no object for it. A closure per member, alive across
 * the log's round trip while the rest of the fan-out is prepared, was the largest thing a
 * broadcast's scavenges copied (docs/BENCHMARKS.md, "What a broadcast's scavenges kept").
 */
import type { ExposureEvent } from '@herald/types';
import type { EncodedMessage } from '@herald/redis';

type Via = ExposureEvent['via'];
type Written = ((err?: Error) => void) | undefined;

/** A push behind the oldest. */
interface Later {
  message: EncodedMessage;
  via: Via;
  written: Written;
  category: string | undefined;
}

/** Taken from the array's head before the array is emptied. */
const COMPACT_AT = 64;

export class LoggedPushes {
  /** The oldest push (null: none waits). */
  private headMessage: EncodedMessage | null = null;
  private headVia: Via = 'live';
  private headWritten: Written = undefined;
  private headCategory: string | undefined = undefined;
  private later: Later[] | null = null;
  /** Where the array's next push is. */
  private at = 0;

  get length(): number {
    return (this.headMessage === null ? 0 : 1) + (this.later === null ? 0 : this.later.length - this.at);
  }

  /** A push recorded: it waits behind those recorded before it. */
  add(message: EncodedMessage, via: Via, written: Written, category: string | undefined): void {
    if (this.headMessage === null) {
      this.headMessage = message;
      this.headVia = via;
      this.headWritten = written;
      this.headCategory = category;
    } else (this.later ??= []).push({ message, via, written, category });
  }

  /**
   * The oldest push, handed to `write` (the session's, called with the session as `this`) and
   * removed first; throws when none waits (the log let more pushes go than were recorded).
   */
  takeOldest<T>(self: T, write: (this: T, message: EncodedMessage, via: Via, written: Written, category: string | undefined) => boolean): boolean {
    const message = this.headMessage;
    if (message === null) throw new Error('no push waits for the exposure log');
    const via = this.headVia;
    const written = this.headWritten;
    const category = this.headCategory;
    this.shift();
    return write.call(self, message, via, written, category);
  }

  private shift(): void {
    const later = this.later;
    if (later === null || this.at === later.length) {
      this.headMessage = null;
      this.headWritten = undefined;
      this.headCategory = undefined;
      return;
    }
    const next = later[this.at++];
    this.headMessage = next.message;
    this.headVia = next.via;
    this.headWritten = next.written;
    this.headCategory = next.category;
    if (this.at === later.length) {
      later.length = 0;
      this.at = 0;
    } else if (this.at >= COMPACT_AT) {
      later.splice(0, this.at);
      this.at = 0;
    }
  }
}
