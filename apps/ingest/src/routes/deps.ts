/** What the route modules need from the app. */
import type { TokenVerifier } from '@herald/auth';
import type { IngestConfig } from '@herald/config';
import type { Logger } from '@herald/logger';
import type { HeraldRedis } from '@herald/redis';
import type { IngestMetrics } from '../metrics';

export interface RouteDeps {
  config: IngestConfig;
  redis: HeraldRedis;
  verifier: TokenVerifier;
  metrics: IngestMetrics;
  logger: Logger;
}
