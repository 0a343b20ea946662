/**
 * The one encoding of a message in Redis (body value and live notification alike):
 *
 *   <expiresAtMs>|<id>|<category or empty>|<message frame JSON>
 *
 * The frame is serialized once, by ingest, and sent to every recipient as it is: the gateway
 * only splits off the header it needs (expiry for the TTL check, id and category for the
 * exposure event). Ids and categories never contain `|` (see @herald/types identifiers).
 *
 * Decoded, the frame stays bytes: from a Buffer (what the gateway's subscriber receives) it is a
 * view of the same memory, and every recipient's socket gets those bytes as a text frame with no
 * per-recipient UTF-8 encoding.
 */
import type { Message } from '@herald/types';

export interface EncodedMessage {
  id: string;
  category: string | null;
  expiresAt: number;
  /** The `message` frame as UTF-8 bytes, ready to send as a text frame. */
  frame: Buffer;
}

/** A string as JSON.stringify writes it. */
const str = (value: string): string => JSON.stringify(value);

/**
 * The encoding above. The frame's JSON is written member by member, in the order of the
 * `MessageFrame` literal it stands for, so it is what JSON.stringify of that object gives
 * (test/message-codec.spec.ts compares the two): built as an object with its optional members
 * spread in, it took ~1 µs a message in ingest's batches (docs/BENCHMARKS.md).
 */
export function encodeMessage(message: Message): string {
  const { id, category, replaceKey, updatedAt } = message;
  const payload = JSON.stringify(message.payload) as string | undefined;
  let frame = `{"type":"message","id":${str(id)}`;
  if (category !== undefined) frame += `,"category":${category === null ? 'null' : str(category)}`;
  if (replaceKey) frame += `,"replaceKey":${str(replaceKey)}`;
  // JSON.stringify leaves out a member whose value has no JSON (undefined, a function).
  if (payload !== undefined) frame += `,"payload":${payload}`;
  if (updatedAt !== undefined) frame += `,"updatedAt":${str(updatedAt)}`;
  // Last, always: sentAtOf reads it from the end.
  frame += `,"createdAt":${str(message.createdAt)}}`;
  return `${message.expiresAt}|${id}|${category ?? ''}|${frame}`;
}

const BAR = 0x7c; // '|'

/** Returns null for anything that is not an encoded message (never throws). */
export function decodeMessage(raw: string | Buffer): EncodedMessage | null {
  const bytes = typeof raw === 'string' ? Buffer.from(raw) : raw;
  const a = bytes.indexOf(BAR);
  const b = a < 0 ? -1 : bytes.indexOf(BAR, a + 1);
  const c = b < 0 ? -1 : bytes.indexOf(BAR, b + 1);
  if (c < 0) return null;
  const expiresAt = a === 0 ? NaN : Number(bytes.toString('latin1', 0, a));
  if (!Number.isFinite(expiresAt)) return null;
  const category = bytes.toString('utf8', b + 1, c);
  return {
    expiresAt,
    id: bytes.toString('utf8', a + 1, b),
    category: category === '' ? null : category,
    frame: bytes.subarray(c + 1),
  };
}

/** What every encoded frame starts with (encodeMessage: `type` first). */
const FRAME_HEAD = Buffer.from('{"type":"message",');

/**
 * The message with `"replaces":"<old id>"` in its frame (right after `type`), for a live delivery
 * that takes the place of an older message with the same replace key: a new frame, built once
 * per note and shared by every session that gets it; the message itself (and the body cache)
 * keeps the frame without it. Ids never need JSON escaping (UUIDs; @herald/types identifiers).
 * A frame that does not start as encodeMessage writes it is returned unchanged.
 */
export function withReplaces(message: EncodedMessage, oldId: string): EncodedMessage {
  const { frame } = message;
  if (frame.length < FRAME_HEAD.length || !frame.subarray(0, FRAME_HEAD.length).equals(FRAME_HEAD)) return message;
  const member = Buffer.from(`"replaces":${JSON.stringify(oldId)},`);
  return { ...message, frame: Buffer.concat([FRAME_HEAD, member, frame.subarray(FRAME_HEAD.length)]) };
}

const CREATED_AT = Buffer.from('"createdAt":"');
const QUOTE = 0x22;

/**
 * The message's send time (the frame's `createdAt`, epoch ms; NaN if unreadable). `createdAt` is
 * the frame's last member (encodeMessage), so its last occurrence is the frame's own, whatever
 * the payload holds.
 */
export function sentAtOf(message: EncodedMessage): number {
  const at = message.frame.lastIndexOf(CREATED_AT);
  if (at < 0) return NaN;
  const start = at + CREATED_AT.length;
  const end = message.frame.indexOf(QUOTE, start);
  return end < 0 ? NaN : Date.parse(message.frame.toString('latin1', start, end));
}
