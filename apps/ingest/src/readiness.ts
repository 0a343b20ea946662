/** The readiness check ingest adds to /readyz: can Redis answer, quickly? */
import type { HeraldRedis } from '@herald/redis';

/**
 * Longest a PING may take before /readyz calls Redis down. While Redis is unreachable ioredis
 * queues commands and retries; a probe must answer well inside a load balancer's probe timeout.
 */
export const REDIS_PING_TIMEOUT_MS = 1000;

export function redisReadiness(redis: HeraldRedis, timeoutMs: number = REDIS_PING_TIMEOUT_MS): () => Promise<void> {
  return async () => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`redis did not answer PING within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([redis.ping(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
}
