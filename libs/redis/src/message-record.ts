/**
 * A message's record: what Herald keeps about a message besides its body, so that the message can
 * be looked up, updated, recalled or scheduled after it was accepted. A hash next to the body
 * (`msg:{<id>}:rec`, the body's hash tag), written with the body in one script
 * (`store-message-2.lua`) and living as long as the message:
 *
 *   state      scheduled | sent | recalled
 *   producer   the token `sub` that sent it ('' for writers without one: tests, benchmarks)
 *   category   the category it went to, or '' for a list of users
 *   to         the users it went to, comma-separated (ids never hold a comma): a recall removes
 *              the id from these offline lists
 *   replaceKey the replace key it was sent with, or absent
 *   createdAt  epoch ms (the send time; for a scheduled message, when it fired)
 *   expiresAt  epoch ms
 *   version    1 at send, +1 per update (absent = 1)
 *   updatedAt, recalledAt, sendAt   epoch ms, when they apply
 */
import type { Message } from '@herald/types';
import type { HeraldRedis } from './client';
import { keys } from './keys';

export type MessageState = 'scheduled' | 'sent' | 'recalled';

export interface MessageRecord {
  id: string;
  state: MessageState;
  producer: string;
  category: string | null;
  /** The recipients of a message to users; empty for a category message. */
  userIds: string[];
  replaceKey: string | null;
  createdAt: number;
  expiresAt: number;
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

/** The record's fields and values, in pairs, for a message being sent now. */
export function recordFields(message: Message, userIds: readonly string[], input: RecordInput = {}): string[] {
  const fields = [
    'state', 'sent',
    'producer', input.producer ?? '',
    'category', message.category ?? '',
    'to', userIds.join(','),
    'createdAt', String(Date.parse(message.createdAt)),
    'expiresAt', String(message.expiresAt),
  ];
  const replaceKey = input.replaceKey ?? message.replaceKey;
  if (replaceKey) fields.push('replaceKey', replaceKey);
  return fields;
}

const STATES: ReadonlySet<string> = new Set<MessageState>(['scheduled', 'sent', 'recalled']);

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
    createdAt: Number(hash.createdAt ?? NaN),
    expiresAt: Number(hash.expiresAt ?? NaN),
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
