/** Message bodies: made and stored once by ingest with the message's TTL, read by gateways. */
import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import type { Message } from '@herald/types';
import { keys } from './keys';
import type { HeraldRedis } from './client';
import { encodeMessage } from './message-codec';
import { createdTimes, recordFields, type RecordInput } from './message-record';

export interface NewMessage {
  payload: unknown;
  /** Lifetime from `createdAt`, ms (a request's ttlSeconds × 1000). */
  ttlMs: number;
  /** The category it is sent to; null (the default) for a list of users. */
  category?: string | null;
  /** Default: a new UUID. A retry under an Idempotency-Key passes the first attempt's. */
  id?: string;
  /** Epoch ms; default now. A retry under an Idempotency-Key passes the first attempt's. */
  createdAt?: number;
  /** The message takes the place of the last one sent with this key to the same recipient (none by default). */
  replaceKey?: string;
}

/** A message as the write protocol stores it: a unique id, its creation time and its expiry. */
export function newMessage(m: NewMessage): Message {
  const ms = m.createdAt ?? Date.now();
  const id = m.id ?? randomUUID();
  const category = m.category ?? null;
  const createdAt = createdTimes.iso(ms);
  const expiresAt = ms + m.ttlMs;
  // Two literals, not a spread: one shape each (replaceKey absent when none, in the same place).
  return m.replaceKey
    ? { id, category, replaceKey: m.replaceKey, payload: m.payload, createdAt, expiresAt }
    : { id, category, payload: m.payload, createdAt, expiresAt };
}

/**
 * The write that stores a message: its body and its record (message-record.ts), both with the
 * TTL left (ms, at least 1), in one `store-message-2.lua` call.
 */
export interface BodyWrite {
  key: string;
  /** The record's key (same hash tag as `key`). */
  recordKey: string;
  encoded: string;
  ttlMs: number;
  record: string[];
}

export function bodyWrite(message: Message, userIds: readonly string[] = [], input?: RecordInput): BodyWrite {
  return {
    key: keys.message(message.id),
    recordKey: keys.messageRecord(message.id),
    encoded: encodeMessage(message),
    ttlMs: Math.max(1, message.expiresAt - Date.now()),
    record: recordFields(message, userIds, input),
  };
}

/** A retry under an Idempotency-Key found its message recalled meanwhile: nothing is stored or sent. */
export class MessageRecalledError extends Error {
  constructor(readonly messageId: string) {
    super(`message ${messageId} was recalled`);
    this.name = 'MessageRecalledError';
  }
}

/** Issue a BodyWrite; rejects with MessageRecalledError when the message was recalled. */
export async function writeBody(redis: HeraldRedis, messageId: string, write: BodyWrite): Promise<void> {
  const stored = await redis.storeMessage(write.key, write.recordKey, write.encoded, write.ttlMs, ...write.record);
  if (stored !== 1) throw new MessageRecalledError(messageId);
}

/** Store the body and record with the message's TTL; returns the encoded form to put in notifications. */
export async function storeMessage(redis: HeraldRedis, message: Message, userIds: readonly string[] = [], input?: RecordInput): Promise<string> {
  const write = bodyWrite(message, userIds, input);
  await writeBody(redis, message.id, write);
  return write.encoded;
}

/**
 * Encoded bodies for ids, null where expired or unknown, in one round trip: MGET on a single
 * node; on a Cluster, where bodies live on many slots (and an MGET or a pipeline may span only
 * one node), one GET per id, which auto-pipelining sends as one batch per node.
 */
export async function loadMessages(redis: HeraldRedis, ids: string[]): Promise<(Buffer | null)[]> {
  if (ids.length === 0) return [];
  if (!(redis instanceof Cluster)) return redis.mgetBuffer(ids.map(keys.message));
  return Promise.all(ids.map((id) => redis.getBuffer(keys.message(id))));
}
