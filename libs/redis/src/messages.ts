/** Message bodies: made and stored once by ingest with the message's TTL, read by gateways. */
import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import type { Message } from '@herald/types';
import { keys } from './keys';
import type { HeraldRedis } from './client';
import { encodeMessage } from './message-codec';

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
}

/** A message as the write protocol stores it: a unique id, its creation time and its expiry. */
export function newMessage(m: NewMessage): Message {
  const createdAt = m.createdAt ?? Date.now();
  return {
    id: m.id ?? randomUUID(),
    category: m.category ?? null,
    payload: m.payload,
    createdAt: new Date(createdAt).toISOString(),
    expiresAt: createdAt + m.ttlMs,
  };
}

/** The SET that stores a body: its key, the encoded body and the TTL left (ms, at least 1). */
export interface BodyWrite {
  key: string;
  encoded: string;
  ttlMs: number;
}

export function bodyWrite(message: Message): BodyWrite {
  return { key: keys.message(message.id), encoded: encodeMessage(message), ttlMs: Math.max(1, message.expiresAt - Date.now()) };
}

/** Store the body with its TTL; returns the encoded form to put in notifications. */
export async function storeMessage(redis: HeraldRedis, message: Message): Promise<string> {
  const { key, encoded, ttlMs } = bodyWrite(message);
  await redis.set(key, encoded, 'PX', ttlMs);
  return encoded;
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
