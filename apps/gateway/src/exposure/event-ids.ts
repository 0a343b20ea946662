/**
 * Exposure event ids and times, made cheaply: a push makes one of each, and a category message
 * makes thousands in one turn.
 *
 * Ids are UUIDs in the version 4 layout: a random prefix per process (74 random bits, new after
 * 2^48 ids) and a 48-bit counter in the last group, instead of crypto.randomUUID() per push, which
 * left about a kilobyte of short-lived strings each in the profiles (docs/BENCHMARKS.md). The
 * store needs them unique (it drops a second event with the same id), not unpredictable: two
 * processes share a prefix with a chance of about 2^-74.
 */
import { randomBytes } from 'node:crypto';
import { IsoTimes } from '@herald/types';

const COUNTER_LIMIT = 2 ** 48;
const VARIANT = '89ab';

export class EventIds {
  private prefix = '';
  private next = COUNTER_LIMIT;
  private readonly times = new IsoTimes();

  /** A new event id. */
  id(): string {
    if (this.next >= COUNTER_LIMIT) this.renew();
    return this.prefix + (this.next++).toString(16).padStart(12, '0');
  }

  /**
   * A new event id as its counter, without making its text: the id is `prefix` (read after this
   * call) followed by the counter in 12 hex digits (push-lines.ts writes it so).
   */
  take(): number {
    if (this.next >= COUNTER_LIMIT) this.renew();
    return this.next++;
  }

  /** The ids' first 24 characters (they change after 2^48 ids). */
  get idPrefix(): string {
    if (this.next >= COUNTER_LIMIT) this.renew();
    return this.prefix;
  }

  /** `new Date(ms).toISOString()`, made once per millisecond. */
  isoTime(ms: number): string {
    return this.times.iso(ms);
  }

  private renew(): void {
    const hex = randomBytes(10).toString('hex');
    const variant = VARIANT[Number.parseInt(hex[15], 16) & 3];
    this.prefix = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(12, 15)}-${variant}${hex.slice(16, 19)}-`;
    this.next = 0;
  }
}
