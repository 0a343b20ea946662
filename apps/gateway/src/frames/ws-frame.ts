/**
 * Prepared text frames: a server's frames are not masked, so every socket that gets a message gets
 * the same bytes on the wire. The frame (header and payload in one buffer) is built once per
 * payload and written as it is, instead of `ws` building a header and writing two chunks (a
 * `writev`) for each socket: a category message goes to thousands of sessions in a row
 * (docs/BENCHMARKS.md, "Prepared frames"). Socket.IO's engine does the same with `ws`
 * (`wsPreEncodedFrame`, written through the sender's `sendFrame`).
 *
 * The frame goes through the socket's `Sender` (`sendFrame`), so it keeps its place among the
 * frames `ws` writes itself (pings, closes, `sendFrame` of other messages). Only while the sender
 * has nothing queued: it queues only while compressing, and the gateway turns per-message
 * compression off; otherwise, or if a `ws` release changes the sender, `ws.send` writes it.
 */
import type { WebSocket } from 'ws';

/** The part of ws's (private) Sender this uses. */
interface SenderInternals {
  _state?: number;
  _queue?: unknown[];
  sendFrame?: (list: Buffer[], cb?: (err?: Error) => void) => void;
}

/** The Sender's state when nothing is being compressed or read (ws lib/sender.js DEFAULT). */
const SENDER_IDLE = 0;
const TEXT_FRAME = { binary: false } as const;
/** FIN and the text opcode: a whole text message in one frame. */
const FIN_TEXT = 0x81;

const prepared = new WeakMap<Buffer, Buffer>();

/** The whole unmasked text frame for `payload` (RFC 6455 §5.2), built once per payload buffer. */
export function textFrame(payload: Buffer): Buffer {
  let frame = prepared.get(payload);
  if (frame) return frame;
  const length = payload.length;
  const head = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  frame = Buffer.allocUnsafe(head + length);
  frame[0] = FIN_TEXT;
  if (head === 2) frame[1] = length;
  else if (head === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  payload.copy(frame, head);
  prepared.set(payload, frame);
  return frame;
}

/**
 * Send `payload` as a text message on an open socket; `cb` once it is written. UTF-8 bytes go out
 * as a prepared frame; a string (a frame made for one socket) through `ws.send`.
 */
export function sendText(ws: WebSocket, payload: Buffer | string, cb?: (err?: Error) => void): void {
  const sender = (ws as unknown as { _sender?: SenderInternals })._sender;
  if (typeof payload !== 'string' && sender && sender._state === SENDER_IDLE && sender._queue?.length === 0 && typeof sender.sendFrame === 'function') {
    sender.sendFrame([textFrame(payload)], cb);
  } else {
    ws.send(payload, TEXT_FRAME, cb);
  }
}
