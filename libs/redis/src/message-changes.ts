/**
 * Changing a message after it was sent: an update (a new body, same id) and a recall (the body
 * goes, the id leaves every offline list and category log that holds it), and the control notes
 * that tell every gateway, so that none delivers the old version, or a recalled message, from
 * its cache, and each sends `update` / `delete` frames to the sessions that received it.
 *
 * Control notes travel on one sharded channel every gateway subscribes to (`keys.controlChannel`):
 *
 *   u<token>|<id>|<version>|<update frame JSON>\n<encoded body>   an update
 *   d<token>|<id>                                                  a recall
 *
 * and each gateway answers on `keys.controlDoneChannel` with `<token>|<gateway id>` once it has
 * applied the note, so the ingest that asked knows when no gateway can deliver the old version.
 * JSON from JSON.stringify holds no raw newline, so the first `\n` ends the frame.
 */
import type { HeraldRedis } from './client';
import { keys } from './keys';
import { decodeMessage, type EncodedMessage } from './message-codec';
import { removeFromInbox } from './inbox';

export type ControlNote =
  | { kind: 'update'; token: string; id: string; version: number; frame: Buffer; message: EncodedMessage }
  | { kind: 'recall'; token: string; id: string };

export const updateControlNote = (token: string, id: string, version: number, updateFrame: string, encoded: string) =>
  `u${token}|${id}|${version}|${updateFrame}\n${encoded}`;
export const recallControlNote = (token: string, id: string) => `d${token}|${id}`;
export const controlDoneNote = (token: string, gatewayId: string) => `${token}|${gatewayId}`;

const BAR = 0x7c;
const NEWLINE = 0x0a;

/** Parses a control note as received; null for anything else (never throws). */
export function parseControlNote(raw: Buffer): ControlNote | null {
  const kind = raw[0];
  const a = raw.indexOf(BAR);
  if (a < 2) return null;
  const token = raw.toString('latin1', 1, a);
  if (kind === 0x64 /* d */) return { kind: 'recall', token, id: raw.toString('utf8', a + 1) };
  if (kind !== 0x75 /* u */) return null;
  const b = raw.indexOf(BAR, a + 1);
  const c = b < 0 ? -1 : raw.indexOf(BAR, b + 1);
  const nl = c < 0 ? -1 : raw.indexOf(NEWLINE, c + 1);
  if (nl < 0) return null;
  const version = Number(raw.toString('latin1', b + 1, c));
  const message = decodeMessage(raw.subarray(nl + 1));
  if (!Number.isInteger(version) || !message) return null;
  return { kind: 'update', token, id: raw.toString('utf8', a + 1, b), version, frame: raw.subarray(c + 1, nl), message };
}

/** The token and gateway of a confirmation; null when unreadable. */
export function parseControlDone(raw: string): { token: string; gatewayId: string } | null {
  const bar = raw.indexOf('|');
  return bar < 1 ? null : { token: raw.slice(0, bar), gatewayId: raw.slice(bar + 1) };
}

export interface BodyUpdate {
  /** The new encoded body (encodeMessage of the message with its new payload and `updatedAt`). */
  encoded: string;
  /** The new TTL, ms, or null to keep the current one. */
  ttlMs: number | null;
  expiresAt: number;
  updatedAt: number;
}

/**
 * Replace a sent message's body (update-message-2.lua). Resolves with the new version, or with
 * the state that stopped it: 'missing' (unknown or expired), 'scheduled', 'sending', 'recalled'.
 */
export async function updateBody(redis: HeraldRedis, id: string, update: BodyUpdate): Promise<{ version: number } | { refused: string }> {
  const [outcome, version] = await redis.updateMessage(
    keys.message(id),
    keys.messageRecord(id),
    update.encoded,
    update.ttlMs === null ? '' : Math.max(1, update.ttlMs),
    update.expiresAt,
    update.updatedAt,
  );
  return outcome === 'updated' ? { version: Number(version) } : { refused: outcome };
}

export type RecallOutcome = 'recalled' | 'cancelled' | 'again' | 'missing';

/**
 * Recall a message (recall-message-2.lua): the body goes and the record says so; then, for a
 * message that was sent, or is being sent (a scheduled one firing now: its send stores nothing
 * more), or was recalled before (a repeat finishes what a failed one left), the id leaves its
 * recipients' offline lists and its category's log. A scheduled message is only cancelled.
 */
export async function recallMessage(redis: HeraldRedis, id: string, now = Date.now()): Promise<{ outcome: RecallOutcome; removed: number }> {
  const [outcome, to, category] = await redis.recallMessage(keys.message(id), keys.messageRecord(id), now);
  let removed = 0;
  if (outcome === 'recalled' || outcome === 'again') {
    const users = to === '' ? [] : to.split(',');
    const counts = await Promise.all(users.map((userId) => removeFromInbox(redis, userId, [id])));
    removed = counts.reduce((a, b) => a + b, 0);
    if (category !== '') removed += await redis.removeEntry(keys.categoryLog(category), id);
  }
  return { outcome: outcome as RecallOutcome, removed };
}
