/**
 * `Idempotency-Key` for POST /v1/messages (and `idempotencyKey` of a batch item): the same producer, key and body within
 * IDEMPOTENCY_TTL_SECONDS get the first answer and write nothing again. Concurrent duplicates wait
 * for the first to finish; if its process died, a repeat takes over after the lease with the same
 * message id, and the writes it repeats skip what was already written.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { claimIdempotency, completeIdempotency, fingerprint, peekIdempotency, type HeraldRedis } from '@herald/redis';
import { HeraldError } from '@herald/types';

/** Visible ASCII, no spaces, as the IETF Idempotency-Key draft's examples; bounded. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
/** How often a waiting duplicate asks whether the first request has finished. */
const POLL_MS = 25;

export interface IdempotencyOptions {
  redis: HeraldRedis;
  producer: string;
  key: string;
  body: unknown;
  leaseMs: number;
  ttlSeconds: number;
}

export interface Answer {
  id: string;
  /** A scheduled message's send time (ISO 8601). */
  scheduledFor?: string;
}

export interface IdempotentResult {
  answer: Answer;
  /** True when the answer is the recorded one of an earlier request. */
  replayed: boolean;
}

export function checkIdempotencyKey(key: string | string[] | undefined): string | undefined {
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(key)) throw new HeraldError('INVALID_IDEMPOTENCY_KEY');
  return key;
}

/** A key claimed for this request's send (with the message id and creation time to use), or its recorded answer. */
export type KeyClaim = { claimed: { id: string; createdAt: number } } | { replayed: Answer };

/**
 * Claim the key (see the header): the recorded answer of a finished request, or the claim once
 * the key is free (new, or its holder's lease ran out). Throws IDEMPOTENCY_KEY_REUSED (another
 * body) or IDEMPOTENCY_KEY_IN_USE (still held after two leases).
 */
export async function claimKey(opts: IdempotencyOptions): Promise<KeyClaim> {
  const request = {
    producer: opts.producer,
    key: opts.key,
    fingerprint: fingerprint(opts.body),
    leaseMs: opts.leaseMs,
    ttlSeconds: opts.ttlSeconds,
  };
  // A repeat of a finished request (the common case) is answered from a read, writing nothing.
  const seen = await peekIdempotency(opts.redis, opts.producer, opts.key);
  if (seen && seen.fingerprint !== request.fingerprint) throw new HeraldError('IDEMPOTENCY_KEY_REUSED');
  if (seen?.done && seen.result !== null) return { replayed: JSON.parse(seen.result) as Answer };
  // A waiter outlives one lease: the holder either answers or its lease runs out and we take over.
  const deadline = Date.now() + 2 * opts.leaseMs;
  for (;;) {
    const claim = await claimIdempotency(opts.redis, { ...request, id: randomUUID() });
    switch (claim.state) {
      case 'done':
        return { replayed: JSON.parse(claim.result) as Answer };
      case 'mismatch':
        throw new HeraldError('IDEMPOTENCY_KEY_REUSED');
      case 'claimed':
        return { claimed: { id: claim.id, createdAt: claim.createdAt } };
      case 'busy':
        if (Date.now() > deadline) throw new HeraldError('IDEMPOTENCY_KEY_IN_USE');
        await sleep(POLL_MS);
    }
  }
}

/**
 * The recorded answer of a finished request with this key and the same body, or undefined; reads
 * only. For a repeat that would now be refused by a rule that depends on the time (a `sendAt`
 * passed since the first request): the first answer still stands. Throws IDEMPOTENCY_KEY_REUSED
 * for another body.
 */
export async function recordedAnswer(opts: Pick<IdempotencyOptions, 'redis' | 'producer' | 'key' | 'body'>): Promise<Answer | undefined> {
  const seen = await peekIdempotency(opts.redis, opts.producer, opts.key);
  if (seen && seen.fingerprint !== fingerprint(opts.body)) throw new HeraldError('IDEMPOTENCY_KEY_REUSED');
  return seen?.done && seen.result !== null ? (JSON.parse(seen.result) as Answer) : undefined;
}

/** Record the answer of a claimed key's send: repeats get it from now on. */
export async function recordAnswer(opts: Pick<IdempotencyOptions, 'redis' | 'producer' | 'key'>, answer: Answer): Promise<void> {
  await completeIdempotency(opts.redis, opts.producer, opts.key, JSON.stringify(answer));
}

/** Run `send` at most once per key (see the header), answering every request the same. */
export async function runIdempotent(
  opts: IdempotencyOptions,
  send: (repeatable: { id: string; createdAt: number }) => Promise<Answer>,
): Promise<IdempotentResult> {
  const claim = await claimKey(opts);
  if ('replayed' in claim) return { answer: claim.replayed, replayed: true };
  const answer = await send(claim.claimed);
  await recordAnswer(opts, answer);
  return { answer, replayed: false };
}
