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

export function parseNotification(raw: string): Notification | null {
  if (raw.startsWith('m')) {
    const message = decodeMessage(raw.slice(1));
    return message ? { kind: 'message', message } : null;
  }
  if (raw.startsWith('r') && raw.length > 1) return { kind: 'ref', id: raw.slice(1) };
  if (raw.startsWith('b') && raw.length > 1) return { kind: 'barrier', token: raw.slice(1) };
  if (raw.startsWith('c')) {
    try {
      const categories: unknown = JSON.parse(raw.slice(1));
      if (Array.isArray(categories) && categories.every((c) => typeof c === 'string')) {
        return { kind: 'categories', categories };
      }
    } catch {
      return null;
    }
  }
  return null;
}
