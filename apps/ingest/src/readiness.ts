/** The readiness check ingest adds to /readyz: can Redis answer, quickly? */
import { REDIS_PING_TIMEOUT_MS, withTimeout } from '@herald/http';
import type { HeraldRedis } from '@herald/redis';

export function redisReadiness(redis: HeraldRedis, timeoutMs: number = REDIS_PING_TIMEOUT_MS): () => Promise<void> {
  return async () => void (await withTimeout(redis.ping(), timeoutMs, 'Redis PING'));
}
