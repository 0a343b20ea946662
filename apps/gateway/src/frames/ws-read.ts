/**
 * Small text frames read without `ws`' receiver. A client's frame that comes whole in one read,
 * masked, final, of text (the SDK's and the bench's acks: `{"type":"ack","ids":["…"]}`), with
 * fewer than 126 bytes, all of them ASCII once unmasked, while the receiver is between frames, is
 * unmasked here and given to the socket's `'message'` listeners as `ws` would give it (the
 * payload's bytes, `isBinary` false), in the same turn; so is each such frame a read begins with
 * (a client's acks of two turns read together). From the first other frame on (longer,
 * fragmented, binary, control or split frames, any non-ASCII byte), or once the socket is no
 * longer open, the rest of the read goes to the receiver, as does every read while it is in the
 * middle of something.
 *
 * Why: `ws`' receiver is a writable stream that, for every frame it reads, makes a new
 * `_fragments` array and a new backing store for its emptied `_buffers`, and keeps both on itself
 * until the socket's next frame: in a broadcast, a second later, so they outlive the young
 * generation, ~280 bytes an ack and half of what the gateway promoted (docs/BENCHMARKS.md,
 * "Acks read without ws' receiver"). RFC 6455 §5.2: the first byte of a final text frame without
 * extensions is 0x81; a client's frames are masked (the second byte's high bit), the 7-bit length
 * below 126 is the length, then the 4-byte key.
 *
 * It reads the receiver's state (private to `ws`, as ws-frame.ts reads its sender's); if a `ws`
 * release changes the receiver's shape, nothing is read here and the receiver reads everything.
 *
 * A reader given to readSmallTextFrames sees each such frame first, unmasked in place into one
 * buffer of this module's: the gateway applies an ack of one id from those bytes, with no buffer,
 * event or intake object made for it (docs/BENCHMARKS.md, "What a broadcast's scavenges kept").
 */
import type { WebSocket } from 'ws';

/** The part of ws's (private) Receiver this reads. */
interface ReceiverInternals {
  write(chunk: unknown, ...rest: unknown[]): boolean;
  _state: number;
  _bufferedBytes: number;
  _fragmented: number;
  _opcode: number;
  _maxPayload: number;
  _allowSynchronousEvents: boolean;
  _writableState: { length: number; ended: boolean; destroyed: boolean; corked: number };
}

/** The receiver's state between frames (ws lib/receiver.js GET_INFO). */
const GET_INFO = 0;
/** The opcode of a close frame: once one is read the receiver reads nothing more. */
const CLOSE_OPCODE = 0x08;
/** FIN and the text opcode, no extension bit. */
const FIN_TEXT = 0x81;
const MASKED = 0x80;
/** Lengths from this one on take more bytes. */
const EXTENDED_LENGTH = 126;
const HEADER_BYTES = 6;
const OPEN = 1;

function hasShape(receiver: Partial<ReceiverInternals> | undefined): receiver is ReceiverInternals {
  return (
    receiver !== undefined &&
    typeof receiver.write === 'function' &&
    typeof receiver._state === 'number' &&
    typeof receiver._bufferedBytes === 'number' &&
    typeof receiver._fragmented === 'number' &&
    typeof receiver._opcode === 'number' &&
    typeof receiver._maxPayload === 'number' &&
    receiver._allowSynchronousEvents === true &&
    typeof receiver._writableState === 'object'
  );
}

/**
 * Reads a small frame's payload in place: `bytes` holds it from 0 to `length` only while the call
 * runs (the next frame is unmasked over it). True when it was handled: no `'message'` event is
 * emitted for it then.
 */
export type SmallFrameReader = (ws: WebSocket, bytes: Buffer, length: number) => boolean;

/** Where small frames are unmasked, one after the other (the longest has 125 bytes). */
const unmasked = Buffer.alloc(EXTENDED_LENGTH - 1);

/**
 * The payload's length of the frame at `at` in `chunk` if it is a whole small final masked text
 * frame of ASCII (it ends at `at` + HEADER_BYTES + its length, within `chunk`), its payload
 * unmasked into `into` from 0; else -1 (`into` may have been written).
 */
function unmaskSmallTextFrame(chunk: Buffer, maxPayload: number, at: number, into: Buffer): number {
  if (chunk.length <= at + HEADER_BYTES || chunk[at] !== FIN_TEXT || (chunk[at + 1] & MASKED) === 0) return -1;
  const length = chunk[at + 1] & ~MASKED;
  const start = at + HEADER_BYTES;
  if (length === 0 || length >= EXTENDED_LENGTH || chunk.length < start + length || (maxPayload > 0 && length > maxPayload)) return -1;
  for (let i = 0; i < length; i++) {
    const byte = chunk[start + i] ^ chunk[at + 2 + (i & 3)];
    if (byte >= 0x80) return -1;
    into[i] = byte;
  }
  return length;
}

/** `length` bytes of `from` as a buffer of their own. */
function copyOf(from: Buffer, length: number): Buffer {
  const payload = Buffer.allocUnsafe(length);
  from.copy(payload, 0, 0, length);
  return payload;
}

/**
 * The payload of the frame at `at` in `chunk` if it is a whole small final masked text frame of
 * ASCII (it ends at `at` + HEADER_BYTES + its length, within `chunk`); else null.
 */
export function smallTextFrame(chunk: Buffer, maxPayload = 0, at = 0): Buffer | null {
  const length = unmaskSmallTextFrame(chunk, maxPayload, at, unmasked);
  return length < 0 ? null : copyOf(unmasked, length);
}

/**
 * Read `ws`' small frames here (see the header): each goes to `read` first, when given (an ack the
 * gateway applies from the bytes: frames/client-intake.ts receiveAckBytes), and to the
 * `'message'` listeners when `read` does not take it.
 */
export function readSmallTextFrames(ws: WebSocket, read?: SmallFrameReader): void {
  const receiver = (ws as unknown as { _receiver?: Partial<ReceiverInternals> })._receiver;
  if (!hasShape(receiver)) return;
  const write = receiver.write;
  receiver.write = function (this: ReceiverInternals, chunk: unknown, ...rest: unknown[]): boolean {
    const state = this._writableState;
    if (
      rest.length === 0 &&
      Buffer.isBuffer(chunk) &&
      ws.readyState === OPEN &&
      this._state === GET_INFO &&
      this._bufferedBytes === 0 &&
      this._fragmented === 0 &&
      this._opcode !== CLOSE_OPCODE &&
      state.length === 0 &&
      state.corked === 0 &&
      !state.ended &&
      !state.destroyed
    ) {
      let at = 0;
      // A listener may close the socket: what follows is then the receiver's, as it would be.
      while (at < chunk.length && ws.readyState === OPEN) {
        const length = unmaskSmallTextFrame(chunk, this._maxPayload, at, unmasked);
        if (length < 0) break;
        at += HEADER_BYTES + length;
        if (read === undefined || !read(ws, unmasked, length)) ws.emit('message', copyOf(unmasked, length), false);
      }
      if (at === chunk.length) return true;
      if (at > 0) return write.call(this, chunk.subarray(at));
    }
    return write.call(this, chunk, ...rest);
  };
}
