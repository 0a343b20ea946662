/**
 * A message's record: what Herald keeps about a message besides its body, so that the message can
 * be looked up, updated, recalled or scheduled after it was accepted. A hash next to the body
 * (`msg:{<id>}:rec`, the body's hash tag), written with the body in one script
 * (`store-message-2.lua`) and living as long as the message:
 *
 *   state      scheduled | sending | sent | recalled (sending: a scheduled message's job has
 *              started and fixed its createdAt; the store makes it sent)
 *   producer   the token `sub` that sent it ('' for writers without one: tests, benchmarks)
 *   category   the category it went to, or '' for a list of users
 *   to         the users it went to, comma-separated (ids never hold a comma): a recall removes
 *              the id from these offline lists
 *   replaceKey the replace key it was sent with, or absent
 *   createdAt  epoch ms (the send time; for a scheduled message, when it fired; absent before)
 *   expiresAt  epoch ms (absent while scheduled)
 *   ttlSeconds the TTL asked for a scheduled message (counted from createdAt once it fires)
 *   version    1 at send, +1 per update (absent = 1)
 *   updatedAt, recalledAt, sendAt   epoch ms, when they apply
 */
import { IsoTimes, type Message } from '@herald/types';
import type { HeraldRedis } from './client';
import { keys } from './keys';

export type MessageState = 'scheduled' | 'sending' | 'sent' | 'recalled';

export interface MessageRecord {
  id: string;
  state: MessageState;
  producer: string;
  category: string | null;
  /** The recipients of a message to users; empty for a category message. */
  userIds: string[];
  replaceKey: string | null;
  /** Null while a scheduled message has not fired. */
  createdAt: number | null;
  /** Null until the message is sent (a scheduled one, from when it fires). */
  expiresAt: number | null;
  /** The TTL asked, for a scheduled message; null for one sent at once. */
  ttlSeconds: number | null;
  version: number;
  updatedAt: number | null;
  recalledAt: number | null;
  sendAt: number | null;
}

/** Who sent a message and how, as its record keeps it. */
export interface RecordInput {
  /** The token `sub` of the producer ('' when none). */
  producer?: string;
  replaceKey?: string | null;
}

/** Creation times as text (newMessage: a batch's messages share their millisecond), read back here. */
export const createdTimes = new IsoTimes();

/** The record's fields and values, in pairs, for a message being sent now. */
export function recordFields(message: Message, userIds: readonly string[], input: RecordInput = {}): string[] {
  const fields = [
    'state', 'sent',
    'producer', input.producer ?? '',
    'category', message.category ?? '',
    'to', userIds.join(','),
    'createdAt', String(createdTimes.parse(message.createdAt)),
    'expiresAt', String(message.expiresAt),
  ];
  const replaceKey = input.replaceKey ?? message.replaceKey;
  if (replaceKey) fields.push('replaceKey', replaceKey);
  return fields;
}

const STATES: ReadonlySet<string> = new Set<MessageState>(['scheduled', 'sending', 'sent', 'recalled']);

/** A number field, or null when absent. */
const msOrNull = (value: string | undefined): number | null => (value === undefined || value === '' ? null : Number(value));

/** A record from its hash (HGETALL); null when there is none or it is not one. */
export function parseRecord(id: string, hash: Record<string, string>): MessageRecord | null {
  const state = hash.state;
  if (state === undefined || !STATES.has(state)) return null;
  return {
    id,
    state: state as MessageState,
    producer: hash.producer ?? '',
    category: hash.category ? hash.category : null,
    userIds: hash.to ? hash.to.split(',') : [],
    replaceKey: hash.replaceKey ? hash.replaceKey : null,
    createdAt: msOrNull(hash.createdAt),
    expiresAt: msOrNull(hash.expiresAt),
    ttlSeconds: msOrNull(hash.ttlSeconds),
    version: hash.version ? Number(hash.version) : 1,
    updatedAt: msOrNull(hash.updatedAt),
    recalledAt: msOrNull(hash.recalledAt),
    sendAt: msOrNull(hash.sendAt),
  };
}

/** The message's record, or null for an unknown or expired id. */
export async function readRecord(redis: HeraldRedis, id: string): Promise<MessageRecord | null> {
  return parseRecord(id, await redis.hgetall(keys.messageRecord(id)));
}

/** A message to send later (POST /v1/messages with sendAt), as its record keeps it. */
export interface ScheduledRecord {
  id: string;
  /** Epoch ms. */
  sendAt: number;
  ttlSeconds: number;
  category: string | null;
  userIds: readonly string[];
  input?: RecordInput;
}

/** How long a scheduled message's record outlives the message's latest expiry if all goes well. */
export const SCHEDULED_RECORD_MARGIN_MS = 24 * 3600 * 1000;

/**
 * Write a scheduled message's record (state `scheduled`), living until a day after the message
 * would expire had it been sent at `sendAt`: a job that fires later than that finds no record and
 * sends nothing. Returns 'created', or the state of the record already there (a repeat under an
 * Idempotency-Key), which is left as it is.
 */
export async function scheduleRecord(redis: HeraldRedis, m: ScheduledRecord, now = Date.now()): Promise<'created' | MessageState> {
  const fields = [
    'state', 'scheduled',
    'producer', m.input?.producer ?? '',
    'category', m.category ?? '',
    'to', m.userIds.join(','),
    'sendAt', String(m.sendAt),
    'ttlSeconds', String(m.ttlSeconds),
  ];
  if (m.input?.replaceKey) fields.push('replaceKey', m.input.replaceKey);
  const lifetimeMs = Math.max(0, m.sendAt - now) + m.ttlSeconds * 1000 + SCHEDULED_RECORD_MARGIN_MS;
  return (await redis.scheduleMessage(keys.messageRecord(m.id), lifetimeMs, ...fields)) as 'created' | MessageState;
}

/**
 * A scheduled message's time has come: `{ send: createdAt }` (the record is now `sending`, its
 * send time fixed once, the same for every run of the job), or the reason to send nothing (the
 * record's state, or 'missing').
 */
export async function fireScheduled(redis: HeraldRedis, id: string): Promise<{ send: number } | { skip: MessageState | 'missing' }> {
  const [state, createdAt] = await redis.fireScheduled(keys.messageRecord(id));
  if (state === 'sending') return { send: Number(createdAt) };
  return { skip: state as MessageState | 'missing' };
}

/** Delete a record still `scheduled` (its job could not be queued); true when deleted. */
export async function unscheduleRecord(redis: HeraldRedis, id: string): Promise<boolean> {
  return (await redis.unscheduleMessage(keys.messageRecord(id))) === 1;
}
