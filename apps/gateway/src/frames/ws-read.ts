/**
 * Small text frames read without `ws`' receiver. A client's frame that comes whole in one read,
 * masked, final, of text (the SDK's and the bench's acks: `{"type":"ack","ids":["…"]}`), with
 * fewer than 126 bytes, all of them ASCII once unmasked, while the receiver is between frames, is
 * unmasked here and given to the socket's `'message'` listeners as `ws` would give it (the
 * payload's bytes, `isBinary` false), in the same turn. Everything else (longer, fragmented,
 * binary, control or split frames, any non-ASCII byte, a receiver in the middle of something) goes
 * to the receiver as before, untouched.
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

/** The payload of `chunk` if it is one whole small final masked text frame of ASCII; else null. */
export function smallTextFrame(chunk: Buffer, maxPayload = 0): Buffer | null {
  if (chunk.length <= HEADER_BYTES || chunk[0] !== FIN_TEXT || (chunk[1] & MASKED) === 0) return null;
  const length = chunk[1] & ~MASKED;
  if (length >= EXTENDED_LENGTH || chunk.length !== HEADER_BYTES + length || (maxPayload > 0 && length > maxPayload)) return null;
  const payload = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) {
    const byte = chunk[HEADER_BYTES + i] ^ chunk[2 + (i & 3)];
    if (byte >= 0x80) return null;
    payload[i] = byte;
  }
  return payload;
}

/** Read `ws`' small text frames as the header says, from now on (nothing changes if its receiver is not as expected). */
export function readSmallTextFrames(ws: WebSocket): void {
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
      const payload = smallTextFrame(chunk, this._maxPayload);
      if (payload !== null) {
        ws.emit('message', payload, false);
        return true;
      }
    }
    return write.call(this, chunk, ...rest);
  };
}
