/**
 * The one encoding of a message in Redis (body value and live notification alike):
 *
 *   <expiresAtMs>|<id>|<category or empty>|<message frame JSON>
 *
 * The frame is serialized once, by ingest, and sent to every recipient as it is: the gateway
 * only splits off the header it needs (expiry for the TTL check, id and category for the
 * exposure event). Ids and categories never contain `|` (see @herald/types identifiers).
 */
import type { Message, MessageFrame } from '@herald/types';

export interface EncodedMessage {
  id: string;
  category: string | null;
  expiresAt: number;
  /** The `message` frame, ready to send. */
  frame: string;
}

export function encodeMessage(message: Message): string {
  const frame: MessageFrame = {
    type: 'message',
    id: message.id,
    category: message.category,
    payload: message.payload,
    createdAt: message.createdAt,
  };
  return `${message.expiresAt}|${message.id}|${message.category ?? ''}|${JSON.stringify(frame)}`;
}

/** Returns null for anything that is not an encoded message (never throws). */
export function decodeMessage(raw: string): EncodedMessage | null {
  const a = raw.indexOf('|');
  const b = a < 0 ? -1 : raw.indexOf('|', a + 1);
  const c = b < 0 ? -1 : raw.indexOf('|', b + 1);
  if (c < 0) return null;
  const expiresAt = Number(raw.slice(0, a));
  if (!Number.isFinite(expiresAt)) return null;
  const category = raw.slice(b + 1, c);
  return { expiresAt, id: raw.slice(a + 1, b), category: category === '' ? null : category, frame: raw.slice(c + 1) };
}
