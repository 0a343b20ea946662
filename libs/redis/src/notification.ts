/**
 * What travels on a user's notification channel. The first character says the kind:
 *   m<encoded message>      a new message for the user, body inside (see message-codec)
 *   r<message id>           a new message for the user, body in `msg:{<id>}`: one body read per
 *                           gateway instead of one copy per recipient (category fan-out, and any
 *                           message whose inline copies would be too many bytes: see `liveNote`)
 *   c<JSON array of names>  the user's categories are now these
 *   b<token>                a gateway's barrier marker: everything published on the channel
 *                           before it has reached that gateway when the marker does
 *   x<old id>|m… or x<old id>|r…
 *                           a new message (as m / r) that takes the place of the user's message
 *                           <old id> with the same replace key (deliver-4.lua writes the prefix;
 *                           the old id has just left the inbox, if it was still there)
 *
 * and on a category's channel, one per message for every gateway (written by
 * publish-category-5.lua, which knows the entry's id; see category-log.ts):
 *   k<entry id>|m<encoded>  a new entry of the category's log, body inside
 *   k<entry id>|r<id>       the same, body in `msg:{<id>}`
 *   k<entry id>|x<old id>|m… or …|r…
 *                           the same, taking the place of the category's message <old id> with
 *                           the same replace key (its entry has just left the log)
 *
 * `replaces` on a parsed note is that <old id>: the gateway adds `"replaces":"<old id>"` to the
 * frame of that live delivery (message-codec withReplaces).
 */
import { decodeMessage, type EncodedMessage } from './message-codec';

export type Notification =
  | { kind: 'message'; message: EncodedMessage; replaces?: string }
  | { kind: 'ref'; id: string; replaces?: string }
  | { kind: 'categories'; categories: string[] }
  | { kind: 'barrier'; token: string }
  /** A category log entry (`entry`: its id in the log); `message` when the body came inside. */
  | { kind: 'entry'; entry: string; id: string; message?: EncodedMessage; replaces?: string };

export const messageNote = (encoded: string) => `m${encoded}`;
export const refNote = (messageId: string) => `r${messageId}`;
export const categoriesNote = (categories: string[]) => `c${JSON.stringify(categories)}`;
export const barrierNote = (token: string) => `b${token}`;

/**
 * Redis's default `client-output-buffer-limit pubsub 32mb 8mb 60`: a subscriber whose unread
 * notifications pass 32 MB, or stay over 8 MB for 60 s, is disconnected, and a gateway whose
 * subscriber is dropped must close every session (1012) to resync. One request stays under the
 * soft limit, so no request within the limits can get a gateway's subscriber dropped.
 */
export const PUBSUB_SOFT_LIMIT_BYTES = 8 * 1024 * 1024;
/**
 * What one notification costs in a subscriber's output buffer beyond its own bytes: the RESP
 * framing of `smessage` (about 40 bytes) and the channel name, at most 139 bytes (user ids are at
 * most 128 characters); 176 in all, rounded up.
 */
export const NOTE_ENVELOPE_BYTES = 192;
/** Message ids are UUIDs. */
const MESSAGE_ID_BYTES = 36;
/** What a replace adds to a note: `x`, the old id, `|`. */
export const REPLACES_PREFIX_BYTES = 1 + MESSAGE_ID_BYTES + 1;
/** A reference note's cost in a subscriber's buffer: `r`, the id, the envelope. */
export const REF_NOTE_BYTES = 1 + MESSAGE_ID_BYTES + NOTE_ENVELOPE_BYTES;
/** The most a reference note can cost: one that also names the message it replaces. */
export const REPLACING_REF_NOTE_BYTES = REPLACES_PREFIX_BYTES + REF_NOTE_BYTES;
/**
 * Most bytes one request's inline notes may add to one subscriber's buffer (all its recipients
 * on one gateway). Past it the request sends references. Small: an inline note only saves the
 * gateway one body read, and many requests share the 8 MB. Any body to one recipient up to
 * 1 MB, a 1 KB payload to about 770 recipients, a 250 KB one to at most 4 go inline; MAX_RECIPIENTS
 * is bounded (MAX_RECIPIENTS_LIMIT in @herald/config) so that references stay under the soft limit.
 */
export const INLINE_NOTES_MAX_BYTES = 1024 * 1024;

/**
 * Picks a message's note from its encoded body, its id and its number of recipients; `replacing`:
 * it has a replace key, so each copy may grow by REPLACES_PREFIX_BYTES in Redis.
 */
export type NotePicker = (encoded: string, messageId: string, recipients: number, replacing?: boolean) => string;

/**
 * The notes of one request's messages, picked in turn: a message's body goes inline while the
 * inline copies of the request's messages together stay within INLINE_NOTES_MAX_BYTES (a gateway
 * then needs no body read), else a reference (the gateway reads the body once, whatever the
 * number of recipients). A batch of messages is one request: its messages share the budget.
 */
export function liveNotes(): NotePicker {
  let left = INLINE_NOTES_MAX_BYTES;
  return (encoded, messageId, recipients, replacing = false) => {
    const inline = messageNote(encoded);
    const bytes = recipients * (Buffer.byteLength(inline) + NOTE_ENVELOPE_BYTES + (replacing ? REPLACES_PREFIX_BYTES : 0));
    if (bytes > left) return refNote(messageId);
    left -= bytes;
    return inline;
  };
}

/** The note for one message sent to `recipients` users alone (see liveNotes). */
export function liveNote(encoded: string, messageId: string, recipients: number): string {
  return liveNotes()(encoded, messageId, recipients);
}

const KIND = { m: 0x6d, r: 0x72, b: 0x62, c: 0x63, k: 0x6b, x: 0x78 } as const;
const BAR = 0x7c;

/** Parses a notification as received (bytes: the gateway's subscriber) or as a string. */
export function parseNotification(raw: string | Buffer): Notification | null {
  const bytes = typeof raw === 'string' ? Buffer.from(raw) : raw;
  const kind = bytes[0];
  if (kind === KIND.m) {
    const message = decodeMessage(bytes.subarray(1));
    return message ? { kind: 'message', message } : null;
  }
  if (kind === KIND.r && bytes.length > 1) return { kind: 'ref', id: bytes.toString('utf8', 1) };
  if (kind === KIND.k) return parseEntry(bytes);
  if (kind === KIND.x) return parseReplacing(bytes);
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

/** `x<old id>|` then a message or a reference note. */
function parseReplacing(bytes: Buffer): Notification | null {
  const bar = bytes.indexOf(BAR);
  if (bar < 2) return null;
  const replaces = bytes.toString('utf8', 1, bar);
  const inner = bytes[bar + 1] === KIND.x ? null : parseNotification(bytes.subarray(bar + 1));
  if (inner?.kind === 'message' || inner?.kind === 'ref') return { ...inner, replaces };
  return null;
}

function parseEntry(bytes: Buffer): Notification | null {
  const bar = bytes.indexOf(BAR);
  if (bar < 2) return null;
  const entry = bytes.toString('latin1', 1, bar);
  const inner = parseNotification(bytes.subarray(bar + 1));
  const replaces = inner && 'replaces' in inner && inner.replaces !== undefined ? { replaces: inner.replaces } : {};
  if (inner?.kind === 'message') return { kind: 'entry', entry, id: inner.message.id, message: inner.message, ...replaces };
  if (inner?.kind === 'ref') return { kind: 'entry', entry, id: inner.id, ...replaces };
  return null;
}
