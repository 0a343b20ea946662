/**
 * Commands written by Herald straight into RESP (Redis's wire format), in buffers reused from
 * command to command, for the commands a gateway sends per delivery in bulk (the category
 * positions: encoded-script.ts; the exposure log's batch has a frame of its own:
 * joined-command.ts). ioredis would build each
 * command as a string around its arguments, measure it, encode it to UTF-8 in fresh memory, and
 * keep the string and the argument arrays until Redis answers: on a busy gateway they outlive the
 * young generation (docs/BENCHMARKS.md).
 *
 * A buffer goes back to the spares only once every command that carries a part of it has
 * settled: until then ioredis may write it again (a resend after a reconnect, a Cluster redirect).
 * Each command site has a pool of its own, of one spare (`sparesOfOneSite`): the exposure log's
 * spill writes megabytes, a window of positions kilobytes, so that one never takes the other's and
 * leaves it fresh memory to fault in.
 */
import { SparePool } from '@herald/buffers';

/** A command site's spares: one buffer, the largest given back. */
export function sparesOfOneSite(): SparePool {
  return new SparePool({ keep: 1 });
}

/** How many decimal digits `n` (a whole number ≥ 0) has. */
function digitCount(n: number): number {
  let digits = 1;
  for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  return digits;
}

/**
 * `n` (a whole number ≥ 0) in decimal at `at`; returns the end. Every argument has its length
 * written: `String(n)` and a `latin1` write made a string and a native call for each.
 */
function writeDigits(buffer: Buffer, at: number, n: number): number {
  const end = at + digitCount(n);
  let i = end;
  let rest = n;
  do {
    buffer[--i] = ZERO + (rest % 10);
    rest = Math.floor(rest / 10);
  } while (rest > 0);
  return end;
}

/** ASCII `text` at `at` (a few characters: no native call); returns the end. */
function ascii(buffer: Buffer, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) buffer[at++] = text.charCodeAt(i);
  return at;
}

/**
 * Texts up to this many UTF-16 units are written by `writeText` below in JavaScript while they are
 * ASCII (keys, ids, numbers, field names: most arguments), longer ones by Buffer's native write,
 * whose call costs more than copying a few dozen characters.
 */
const SHORT_TEXT = 64;

/** `text` as UTF-8 at `at` (room for it made); returns its bytes. */
function writeText(buffer: Buffer, at: number, text: string): number {
  const length = text.length;
  if (length > SHORT_TEXT) return buffer.write(text, at);
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    // Past ASCII: the native write encodes the whole text again from its start.
    if (code >= 0x80) return buffer.write(text, at);
    buffer[at + i] = code;
  }
  return length;
}

const ZERO = 48;
const CR = 13;
const LF = 10;
const DOLLAR = 36;

/**
 * RESP bulk strings appended to one buffer, which grows by moving to a larger one: a part taken
 * before (`buffer.subarray`) stays valid in the buffer it was written in, which is never handed
 * out again. `release()` once every command that carries a part has settled.
 */
export class RespWriter {
  buffer: Buffer;
  /** Bytes written. */
  at = 0;
  /** Bulk strings written. */
  count = 0;

  /** Starts with `spares`' buffer if it has one, else `bytes`. */
  constructor(
    private readonly spares: SparePool,
    bytes = 64 * 1024,
  ) {
    this.buffer = spares.take(bytes);
  }

  /** Room for `bytes` more. */
  private ensure(bytes: number): void {
    if (this.at + bytes <= this.buffer.length) return;
    const larger = this.spares.take(2 * (this.at + bytes));
    this.buffer.copy(larger, 0, 0, this.at);
    this.buffer = larger;
  }

  /** Skip `bytes` (filled later with writeAt, e.g. a head whose size is known only at the end). */
  skip(bytes: number): number {
    this.ensure(bytes);
    const from = this.at;
    this.at += bytes;
    return from;
  }

  /** Raw text (protocol, ASCII) at `at`, without moving on; returns its end. */
  writeAt(text: string, at: number): number {
    return at + this.buffer.write(text, at, 'latin1');
  }

  /**
   * One bulk string: `$<bytes>\r\n<text>\r\n`. The text is written first, where its length's
   * digits end if every character is one byte (keys, ids, numbers: nearly every argument), and moved
   * only when its byte count has more digits than that: one pass over the text instead of two
   * (`Buffer.byteLength`, then the write).
   */
  string(text: string): void {
    // At most 3 bytes of UTF-8 per UTF-16 unit (a surrogate pair's 4 bytes are 2 units).
    this.ensure(text.length * 3 + 24);
    const textAt = this.textAt(text.length);
    this.bulk(textAt, writeText(this.buffer, textAt, text), text.length);
  }

  /**
   * One bulk string of `before`, `text` and `after` (a key around a user's id: keys.ts
   * `keyAround`), written in parts: no string is made for it. `before` and `after` are ASCII.
   */
  stringAround(before: string, text: string, after: string): void {
    const chars = before.length + text.length + after.length;
    this.ensure(chars * 3 + 24);
    const buffer = this.buffer;
    const textAt = this.textAt(chars);
    let at = ascii(buffer, textAt, before);
    at += writeText(buffer, at, text);
    at = ascii(buffer, at, after);
    this.bulk(textAt, at - textAt, chars);
  }

  /** One bulk string of bytes as they are (an event packed by the gateway's log, UTF-8 already). */
  bytes(data: Buffer): void {
    this.ensure(data.length + 24);
    const buffer = this.buffer;
    buffer[this.at] = DOLLAR;
    let at = writeDigits(buffer, this.at + 1, data.length);
    buffer[at++] = CR;
    buffer[at++] = LF;
    buffer.set(data, at);
    at += data.length;
    buffer[at++] = CR;
    buffer[at++] = LF;
    this.at = at;
    this.count++;
  }

  /** Where a bulk string's text of `chars` UTF-16 units is written: after `$`, the digits of `chars` and CRLF. */
  private textAt(chars: number): number {
    return this.at + 1 + digitCount(chars) + 2;
  }

  /**
   * Complete the bulk string whose text (`bytes` of it, from `chars` UTF-16 units) was written at
   * `textAt`: the text moves when its byte count has more digits than `chars`, then its head and CRLF.
   */
  private bulk(textAt: number, bytes: number, chars: number): void {
    const buffer = this.buffer;
    const digitsAt = this.at + 1;
    if (bytes !== chars) {
      const digits = digitCount(bytes);
      if (digits !== digitCount(chars)) {
        buffer.copyWithin(digitsAt + digits + 2, textAt, textAt + bytes);
        textAt = digitsAt + digits + 2;
      }
    }
    buffer[this.at] = DOLLAR;
    const digitsEnd = writeDigits(buffer, digitsAt, bytes);
    buffer[digitsEnd] = CR;
    buffer[digitsEnd + 1] = LF;
    let at = textAt + bytes;
    buffer[at++] = CR;
    buffer[at++] = LF;
    this.at = at;
    this.count++;
  }

  /** Give the buffer back (every command that carries a part of it has settled). */
  release(): void {
    this.spares.giveBack(this.buffer);
    this.buffer = Buffer.alloc(0);
  }
}
