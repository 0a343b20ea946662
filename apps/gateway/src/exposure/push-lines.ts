/**
 * Exposures kept as their parts until the log writes them (wal-writer.ts): a push adds a number
 * and two references to bytes it shares with others, and makes no string of its own.
 *
 * A category message reaches thousands of sessions in one turn, and each push's event used to be
 * a string of ~250 characters built before its frame could go, alive until Pub/Sub had it: the
 * routing's largest cost and most of what its scavenges copied (docs/BENCHMARKS.md, "Exposures
 * written from their parts"). Here a push keeps its id's counter, the bytes of its message's
 * members (`middle`, one per message, time and via) and of its session's (`tail`, one per
 * session); the log writes each line from them once, into the batch's own bytes, and the events
 * go to Pub/Sub as views of those bytes, off the JavaScript heap.
 *
 * A line is `head` (`{"eventId":"` and the ids' prefix), the counter in 12 hex digits, `middle`,
 * `tail`: exactly the event event-json.ts's pushJson makes (event-json.ts idHead, pushMiddle,
 * sessionTail).
 *
 * A batch's bytes stay in memory until the last of its entries is published or spilled (an entry
 * that goes to the spill, or loses a line, becomes a string of its own first: stage.ts). They are
 * outside the JavaScript heap. EXPOSURE_BUFFER_MAX counts events, not bytes: a batch whose last
 * entries wait keeps all of its bytes (a broadcast's ~5 MB) until they go; publishing goes in
 * order, so that is the oldest batch or two. Then they are written over by a later batch (the
 * log keeps two batches' frames: wal-writer.ts).
 */
import { EVENT_SEPARATOR } from '@herald/redis';

/** Hex digits of an event id's counter (event-ids.ts). */
const COUNTER_DIGITS = 12;
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
const LINE_BREAK = EVENT_SEPARATOR.charCodeAt(0);

/** Bytes of one line made of these parts. */
export function lineBytes(head: Buffer, middle: Buffer, tail: Buffer): number {
  return head.length + COUNTER_DIGITS + middle.length + tail.length;
}

/**
 * Exposures of one packed entry: one `head` (one id prefix), a line each. Once written into a batch
 * it may be filled again (`reuse`): the log keeps spare runs (wal-writer.ts), so a broadcast's
 * hundreds of runs are not new arrays grown push by push that outlive a scavenge while the fan-out
 * goes on (docs/BENCHMARKS.md, "What a broadcast's scavenges kept"). Its arrays keep what a longer
 * earlier use left past `count` (references to parts other pushes share).
 */
export class PushRun {
  private readonly counters: number[] = [];
  private readonly middles: Buffer[] = [];
  private readonly tails: Buffer[] = [];
  /** Lines in the run. */
  count = 0;
  /** The lines' bytes, the line breaks between them included. */
  bytes = 0;

  constructor(public head: Buffer) {}

  add(counter: number, middle: Buffer, tail: Buffer): void {
    if (this.count > 0) this.bytes++;
    this.bytes += lineBytes(this.head, middle, tail);
    const at = this.count++;
    if (at < this.counters.length) {
      this.counters[at] = counter;
      this.middles[at] = middle;
      this.tails[at] = tail;
    } else {
      this.counters.push(counter);
      this.middles.push(middle);
      this.tails.push(tail);
    }
  }

  /** Emptied, to hold lines of `head` (once its lines are written into a batch). */
  reuse(head: Buffer): this {
    this.head = head;
    this.count = 0;
    this.bytes = 0;
    return this;
  }

  /** Write the lines into `buf` at `at` (`bytes` of room); returns where they end. */
  write(buf: Buffer, at: number): number {
    const { head, counters, middles, tails, count } = this;
    for (let i = 0; i < count; i++) {
      if (i > 0) buf[at++] = LINE_BREAK;
      buf.set(head, at);
      at = writeCounter(buf, counters[i], at + head.length);
      const middle = middles[i];
      buf.set(middle, at);
      at += middle.length;
      const tail = tails[i];
      buf.set(tail, at);
      at += tail.length;
    }
    return at;
  }
}

/** `n` (below 2^48) as 12 lowercase hex digits at `at`; returns the end. */
function writeCounter(buf: Buffer, n: number, at: number): number {
  for (let i = COUNTER_DIGITS - 1; i >= 0; i--) {
    buf[at + i] = HEX_DIGITS[n % 16];
    n = Math.floor(n / 16);
  }
  return at + COUNTER_DIGITS;
}

/** The bytes of a log batch (wal-writer.ts): its entries (an event's JSON, or a run) one per line. */
export function batchBytes(entries: ReadonlyArray<string | PushRun>): number {
  let bytes = Math.max(entries.length - 1, 0);
  for (const entry of entries) bytes += typeof entry === 'string' ? Buffer.byteLength(entry) : entry.bytes;
  return bytes;
}

/**
 * Write the entries into `data` (batchBytes long), one per line; returns what each entry goes on
 * as: an event's JSON as it is, packed exposures as the view of their lines.
 */
export function writeBatch(entries: ReadonlyArray<string | PushRun>, data: Buffer): Array<string | Buffer> {
  const out = new Array<string | Buffer>(entries.length);
  let at = 0;
  for (let i = 0; i < entries.length; i++) {
    if (i > 0) data[at++] = LINE_BREAK;
    const entry = entries[i];
    if (typeof entry === 'string') {
      at += data.write(entry, at);
      out[i] = entry;
    } else {
      const start = at;
      at = entry.write(data, at);
      out[i] = data.subarray(start, at);
    }
  }
  return out;
}
