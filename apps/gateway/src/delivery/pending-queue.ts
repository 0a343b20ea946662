/**
 * The live messages that arrive while a session drains, oldest first: the drain pushes them after
 * the offline ones (Session.nextPending), skipping the inbox ids it pushed already. Their bytes
 * are counted, so the session can bound them like its socket's queue.
 */
import type { EncodedMessage } from '@herald/redis';

/** What a session pushes: a message, and for a category log entry, its category and entry id. */
export interface Outgoing {
  message: EncodedMessage;
  category?: string;
  entry?: string;
}

/** Items taken from the head before the taken ones are dropped from the array. */
const COMPACT_AT = 64;

export class PendingQueue {
  private items: Outgoing[] = [];
  private start = 0;
  private bytes = 0;

  /** Adds an item; returns the bytes waiting now. */
  add(item: Outgoing): number {
    this.items.push(item);
    return (this.bytes += item.message.frame.length);
  }

  /**
   * The next item, in arrival order, skipping messages whose id is in `drained` (a category entry
   * read by the drain too is skipped when pushed: Session.pushOutgoing); undefined when none is left.
   */
  next(drained: ReadonlySet<string>): Outgoing | undefined {
    while (this.start < this.items.length) {
      const item = this.items[this.start++];
      this.bytes -= item.message.frame.length;
      if (this.start >= COMPACT_AT && this.start * 2 >= this.items.length) {
        this.items.splice(0, this.start);
        this.start = 0;
      }
      if (item.entry !== undefined || !drained.has(item.message.id)) return item;
    }
    return undefined;
  }
}
