/** What the route modules need from the app. */
import type { TokenVerifier } from '@herald/auth';
import type { IngestConfig } from '@herald/config';
import type { Logger } from '@herald/logger';
import type { HeraldRedis } from '@herald/redis';
import type { IngestMetrics } from '../metrics';
import type { FanoutQueue } from '../fanout/fanout-queue';

export interface RouteDeps {
  config: IngestConfig;
  redis: HeraldRedis;
  fanout: FanoutQueue;
  verifier: TokenVerifier;
  metrics: IngestMetrics;
  logger: Logger;
}
