/**
 * Idempotency keys of `POST /v1/messages`: the first request with a key claims it (with a lease),
 * runs, and records its answer; a repeat within the record's lifetime gets that answer and writes
 * nothing. A concurrent repeat finds the key busy and waits; a repeat after the claimer died (its
 * lease ran out) takes over with the same message id, and the writes it repeats are idempotent:
 * each recipient's deliveries under a key are remembered in the user's slot (see inbox.ts), so a
 * user who got the id, even one who acknowledged it since, is skipped.
 */
import { createHash } from 'node:crypto';
import { keys } from './keys';
import type { HeraldRedis } from './client';

export type IdempotencyClaim =
  | { state: 'claimed'; id: string; createdAt: number }
  | { state: 'done'; id: string; result: string }
  | { state: 'busy'; id: string }
  | { state: 'mismatch'; id: string };

export interface ClaimRequest {
  /** Who sent the request (token `sub`): keys are per producer. */
  producer: string;
  key: string;
  /** The message id to use if the key is new. */
  id: string;
  /** Digest of the request body: the same key with another body is refused. */
  fingerprint: string;
  leaseMs: number;
  ttlSeconds: number;
  now?: number;
}

/** The record key for one producer's idempotency key. */
export function idempotencyRecord(producer: string, key: string): string {
  return keys.idempotency(createHash('sha256').update(producer).update('\n').update(key).digest('base64url'));
}

/**
 * The JSON of a value with every object's keys sorted (arrays keep their order): two bodies that
 * differ only in key order, e.g. a retry re-serialized by another JSON library, are one body.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v,
  );
}

/** Digest of a request body in its canonical form (key order does not count). */
export function fingerprint(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('base64url');
}

export async function claimIdempotency(redis: HeraldRedis, req: ClaimRequest): Promise<IdempotencyClaim> {
  const now = req.now ?? Date.now();
  const [state, id, extra] = await redis.claimIdempotency(
    idempotencyRecord(req.producer, req.key),
    req.id,
    req.fingerprint,
    now,
    req.leaseMs,
    req.ttlSeconds,
  );
  switch (state) {
    case 'claimed':
      return { state, id, createdAt: Number(extra) };
    case 'done':
      return { state, id, result: extra };
    case 'busy':
    case 'mismatch':
      return { state, id };
    default:
      throw new Error(`claim-idempotency answered "${state}"`);
  }
}

export interface IdempotencyRecord {
  id: string;
  fingerprint: string;
  done: boolean;
  result: string | null;
}

/** The key's record as it stands, read without writing (a repeat of a finished request). */
export async function peekIdempotency(redis: HeraldRedis, producer: string, key: string): Promise<IdempotencyRecord | null> {
  const [id, fp, state, result] = await redis.hmget(idempotencyRecord(producer, key), 'id', 'fp', 'state', 'result');
  if (id === null || fp === null) return null;
  return { id, fingerprint: fp, done: state === 'done', result };
}

/** Record the answer; returns false when the record had already expired. */
export async function completeIdempotency(redis: HeraldRedis, producer: string, key: string, result: string): Promise<boolean> {
  return (await redis.completeIdempotency(idempotencyRecord(producer, key), result)) === 1;
}
