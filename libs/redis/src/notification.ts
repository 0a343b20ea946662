/**
 * What travels on a user's notification channel. The first character says the kind:
 *   m<encoded message>      a new message for the user (see message-codec)
 *   c<JSON array of names>  the user's categories are now these
 */
import { decodeMessage, type EncodedMessage } from './message-codec';

export type Notification =
  | { kind: 'message'; message: EncodedMessage }
  | { kind: 'categories'; categories: string[] };

export const messageNote = (encoded: string) => `m${encoded}`;
export const categoriesNote = (categories: string[]) => `c${JSON.stringify(categories)}`;

export function parseNotification(raw: string): Notification | null {
  if (raw.startsWith('m')) {
    const message = decodeMessage(raw.slice(1));
    return message ? { kind: 'message', message } : null;
  }
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
