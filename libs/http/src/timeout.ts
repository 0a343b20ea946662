/**
 * A deadline on a promise, and the timeouts more than one app shares.
 *
 * Why here: every app already depends on `@herald/http` for its process lifecycle (`runAll`,
 * `exitOnSignals`, the readiness checks of `createHttpApp`), and a bounded wait belongs with
 * those: a readiness probe that must answer inside a load balancer's timeout, a start-up step
 * that must not hold the process hostage. `@herald/types` holds definitions only; a catch-all
 * "utils" lib is what we do not want.
 */

/**
 * Longest a readiness PING to Redis may take before /readyz calls Redis down. While Redis is
 * unreachable ioredis queues commands and retries; a probe must answer well inside a load
 * balancer's probe timeout. The same for every app.
 */
export const REDIS_PING_TIMEOUT_MS = 1000;

/** A `withTimeout` that ran out; `what` names the work in the message. */
export class TimeoutError extends Error {
  readonly code = 'TIMEOUT';
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super(`${what} did not finish within ${timeoutMs} ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * `promise`, or a `TimeoutError` once `ms` have passed. The timer is cleared when the promise
 * settles first and never keeps the process alive; the work itself is not cancelled (pair it
 * with a cleanup in `.finally` when it holds a listener).
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
    timer.unref();
  });
  return Promise.race([promise, timedOut]).finally(() => clearTimeout(timer));
}
