/**
 * Which message a delivered one takes the place of. A live frame says it (`replaces`); a frame
 * from the offline drain does not (the older message has left the offline list), but it carries
 * its `replaceKey`, and the last message this client got with that key, if it had another id, is
 * the one replaced. Bounded like the delivered ids: past `capacity` keys the least recently used
 * is forgotten (its next message then replaces nothing the client knows of).
 */
import type { MessageFrame } from '@herald/types';

export class ReplaceKeys {
  /** replace key -> id of the last message with it; Map order is use order, the first key the oldest. */
  private readonly last = new Map<string, string>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a whole number of at least 1');
  }

  /** The id `message` replaces (its own `replaces`, else the last id seen with its key), or undefined. */
  replaced(message: MessageFrame): string | undefined {
    const { replaceKey, id } = message;
    if (typeof replaceKey !== 'string') return typeof message.replaces === 'string' ? message.replaces : undefined;
    const before = this.last.get(replaceKey);
    this.last.delete(replaceKey);
    this.last.set(replaceKey, id);
    if (this.last.size > this.capacity) this.last.delete(this.last.keys().next().value as string);
    if (typeof message.replaces === 'string') return message.replaces;
    return before !== undefined && before !== id ? before : undefined;
  }
}
