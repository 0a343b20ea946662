/**
 * What a fleet client (clients.ts) does after an attempt to connect that did not open: a 503 is
 * waited out (Retry-After) for up to `refusedForMs`; 401, 403 and 404 are final, as for the SDK
 * (libs/client close-policy.ts): a retry would get them again; anything else (no answer, a 408
 * from a gateway too busy to read the upgrade request within HTTP_HEADERS_TIMEOUT_MS, a 5xx) is a
 * failed attempt, retried up to `attempts` in all.
 */

/** A handshake's timeout; attempts a connection gets; the wait before a retry, plus jitter; how long 503s are retried. */
export const RETRY = { handshakeMs: 30_000, attempts: 5, baseMs: 1000, jitterMs: 1000, refusedForMs: 120_000 };

/** Answers a retry would get again. */
const FINAL_STATUSES = new Set([401, 403, 404]);

export type NextStep = 'refused' | 'give-up' | 'retry';

/**
 * After failed attempt number `attempt` (1 first), answered with `status` (undefined: no HTTP
 * answer), at `now`, 503s being waited out until `refusedUntil` (epoch ms).
 */
export function nextStep(status: number | undefined, attempt: number, now: number, refusedUntil: number): NextStep {
  if (status === 503 && now < refusedUntil) return 'refused';
  if (attempt >= RETRY.attempts || (status !== undefined && FINAL_STATUSES.has(status))) return 'give-up';
  return 'retry';
}
