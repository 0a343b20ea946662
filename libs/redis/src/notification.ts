/**
 * What travels on a user's notification channel. The first character says the kind:
 *   m<encoded message>      a new message for the user, body inside (see message-codec)
 *   r<message id>           a new message for the user, body in `msg:{<id>}` (category fan-out:
 *                           one body read per gateway instead of one copy per member)
 *   c<JSON array of names>  the user's categories are now these
 *   b<token>                a gateway's barrier marker: everything published on the channel
 *                           before it has reached that gateway when the marker does
 */
import { decodeMessage, type EncodedMessage } from './message-codec';

export type Notification =
  | { kind: 'message'; message: EncodedMessage }
  | { kind: 'ref'; id: string }
  | { kind: 'categories'; categories: string[] }
  | { kind: 'barrier'; token: string };

export const messageNote = (encoded: string) => `m${encoded}`;
export const refNote = (messageId: string) => `r${messageId}`;
export const categoriesNote = (categories: string[]) => `c${JSON.stringify(categories)}`;
export const barrierNote = (token: string) => `b${token}`;

const KIND = { m: 0x6d, r: 0x72, b: 0x62, c: 0x63 } as const;

/** Parses a notification as received (bytes: the gateway's subscriber) or as a string. */
export function parseNotification(raw: string | Buffer): Notification | null {
  const bytes = typeof raw === 'string' ? Buffer.from(raw) : raw;
  const kind = bytes[0];
  if (kind === KIND.m) {
    const message = decodeMessage(bytes.subarray(1));
    return message ? { kind: 'message', message } : null;
  }
  if (kind === KIND.r && bytes.length > 1) return { kind: 'ref', id: bytes.toString('utf8', 1) };
  if (kind === KIND.b && bytes.length > 1) return { kind: 'barrier', token: bytes.toString('utf8', 1) };
  if (kind === KIND.c) {
    try {
      const categories: unknown = JSON.parse(bytes.toString('utf8', 1));
      if (Array.isArray(categories) && categories.every((c) => typeof c === 'string')) {
        return { kind: 'categories', categories };
      }
    } catch {
      return null;
    }
  }
  return null;
}
