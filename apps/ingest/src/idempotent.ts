/**
 * `Idempotency-Key` for POST /v1/messages: the same producer, key and body within
 * IDEMPOTENCY_TTL_SECONDS get the first answer and write nothing again. Concurrent duplicates wait
 * for the first to finish; if its process died, a repeat takes over after the lease with the same
 * message id, and the writes it repeats skip what was already written.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { claimIdempotency, completeIdempotency, fingerprint, peekIdempotency, type HeraldRedis } from '@herald/redis';
import { HeraldError } from '@herald/types';

/** Visible ASCII, no spaces, as the IETF Idempotency-Key draft's examples; bounded. */
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
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
}

export interface IdempotentResult {
  answer: Answer;
  /** True when the answer is the recorded one of an earlier request. */
  replayed: boolean;
}

export function checkIdempotencyKey(key: string | string[] | undefined): string | undefined {
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || !KEY_PATTERN.test(key)) throw new HeraldError('INVALID_IDEMPOTENCY_KEY');
  return key;
}

/** Run `send` at most once per key (see the header), answering every request the same. */
export async function runIdempotent(
  opts: IdempotencyOptions,
  send: (repeatable: { id: string; createdAt: number }) => Promise<Answer>,
): Promise<IdempotentResult> {
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
  if (seen?.done && seen.result !== null) return { answer: JSON.parse(seen.result) as Answer, replayed: true };
  // A waiter outlives one lease: the holder either answers or its lease runs out and we take over.
  const deadline = Date.now() + 2 * opts.leaseMs;
  for (;;) {
    const claim = await claimIdempotency(opts.redis, { ...request, id: randomUUID() });
    switch (claim.state) {
      case 'done':
        return { answer: JSON.parse(claim.result) as Answer, replayed: true };
      case 'mismatch':
        throw new HeraldError('IDEMPOTENCY_KEY_REUSED');
      case 'claimed': {
        const answer = await send({ id: claim.id, createdAt: claim.createdAt });
        await completeIdempotency(opts.redis, opts.producer, opts.key, JSON.stringify(answer));
        return { answer, replayed: false };
      }
      case 'busy':
        if (Date.now() > deadline) throw new HeraldError('IDEMPOTENCY_KEY_IN_USE');
        await sleep(POLL_MS);
    }
  }
}
