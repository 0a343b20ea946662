/**
 * Commands written by Herald straight into RESP (Redis's wire format), in buffers reused from
 * command to command, for the commands a gateway sends per delivery in bulk (the exposure log's
 * batch: joined-command.ts; the category positions: encoded-script.ts). ioredis would build each
 * command as a string around its arguments, measure it, encode it to UTF-8 in fresh memory, and
 * keep the string and the argument arrays until Redis answers: on a busy gateway they outlive the
 * young generation (docs/BENCHMARKS.md).
 *
 * A buffer goes back to the spares only once every command that carries a part of it has
 * settled: until then ioredis may write it again (a resend after a reconnect, a Cluster redirect).
 */

/** A spare buffer larger than this is let go rather than kept. */
const SPARE_MAX_BYTES = 16 * 1024 * 1024;
/** Spare buffers kept, at most. */
const SPARES_MAX = 4;

/** Free buffers of this process, for the next commands. */
const spares: Buffer[] = [];

/** A buffer of at least `bytes`: the smallest spare that fits, or a new one. */
export function takeBuffer(bytes: number): Buffer {
  let best = -1;
  for (let i = 0; i < spares.length; i++) {
    if (spares[i].length >= bytes && (best < 0 || spares[i].length < spares[best].length)) best = i;
  }
  if (best >= 0) return spares.splice(best, 1)[0];
  // A power of two, so that commands of about the same size reuse it.
  return Buffer.allocUnsafeSlow(2 ** Math.ceil(Math.log2(Math.max(bytes, 4096))));
}

/** `buffer` is no longer referenced by any command: keep it for the next ones (or let it go). */
export function giveBackBuffer(buffer: Buffer): void {
  if (buffer.length > SPARE_MAX_BYTES) return;
  if (spares.length < SPARES_MAX) spares.push(buffer);
  else {
    // Keep the larger ones.
    let smallest = 0;
    for (let i = 1; i < spares.length; i++) if (spares[i].length < spares[smallest].length) smallest = i;
    if (spares[smallest].length < buffer.length) spares[smallest] = buffer;
  }
}

const CR = 13;
const LF = 10;
const DOLLAR = 36;

/**
 * RESP bulk strings appended to one buffer, which grows while nothing refers to it yet: take the
 * parts (`buffer.subarray`) only once everything is written, and `release()` once every command
 * that carries one has settled.
 */
export class RespWriter {
  buffer: Buffer;
  /** Bytes written. */
  at = 0;
  /** Bulk strings written. */
  count = 0;

  constructor(bytes = 64 * 1024) {
    this.buffer = takeBuffer(bytes);
  }

  /** Room for `bytes` more. */
  private ensure(bytes: number): void {
    if (this.at + bytes <= this.buffer.length) return;
    const larger = takeBuffer(2 * (this.at + bytes));
    this.buffer.copy(larger, 0, 0, this.at);
    giveBackBuffer(this.buffer);
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

  /** One bulk string: `$<bytes>\r\n<text>\r\n`. */
  string(text: string): void {
    const bytes = Buffer.byteLength(text);
    this.ensure(bytes + 16);
    const buffer = this.buffer;
    let at = this.at;
    buffer[at++] = DOLLAR;
    at += buffer.write(String(bytes), at, 'latin1');
    buffer[at++] = CR;
    buffer[at++] = LF;
    at += buffer.write(text, at);
    buffer[at++] = CR;
    buffer[at++] = LF;
    this.at = at;
    this.count++;
  }

  /** Give the buffer back (every command that carries a part of it has settled). */
  release(): void {
    giveBackBuffer(this.buffer);
    this.buffer = Buffer.alloc(0);
  }
}
