/** The exposure-consumer's variables. */
import { int, parseEnv, str, url, type Parsed } from './schema';
import { auth, checkAuth, common, pubsub, type Env } from './shared-config';

export const consumerSchema = {
  ...common,
  ...auth,
  ...pubsub,
  PORT: int(8082, 0, 65535),
  EXPOSURE_SUBSCRIPTION: str('exposures-consumer'),
  /** Postgres; unset means an embedded Postgres in EMBEDDED_PG_DIR on EMBEDDED_PG_PORT. */
  DATABASE_URL: url(undefined, ['postgres:', 'postgresql:']),
  EMBEDDED_PG_DIR: str('.herald/postgres'),
  EMBEDDED_PG_PORT: int(54329, 1, 65535),
  CONSUMER_BATCH_MAX: int(500, 1, 10_000),
  CONSUMER_BATCH_MAX_MS: int(500, 1, 60_000),
  CONSUMER_MAX_OUTSTANDING: int(5000, 1, 1_000_000),
  /** Batches written to Postgres at the same time (each on its own pool connection). */
  CONSUMER_WRITE_CONCURRENCY: int(2, 1, 16),
  /** Streaming-pull streams the consumer opens; each carries a share of the subscription. */
  CONSUMER_STREAMS: int(5, 1, 32),
  CONSUMER_ACK_DEADLINE_SECONDS: int(60, 10, 600),
  /** Days of daily exposure partitions kept; older ones are dropped. 0 keeps everything. */
  EXPOSURE_RETENTION_DAYS: int(0, 0, 36_500),
  /**
   * Postgres connections for the analyst API (GET /v1/exposures, /v1/exposures/stats, the
   * dashboard), apart from the writer's: however many analysts query at once, the inserts keep
   * their own connections. A query that finds none free within 5 s is answered 503 ANALYTICS_BUSY.
   */
  CONSUMER_READ_POOL_SIZE: int(4, 1, 100),
  /** Longest an analyst query may run (or wait for a lock); past it the request gets 503 QUERY_TIMEOUT. */
  CONSUMER_READ_STATEMENT_TIMEOUT_MS: int(10_000, 100, 600_000),
  /**
   * An engagement (opened, clicked, dismissed) whose exposure is not stored yet is held and checked
   * again this often (ms)...
   */
  CONSUMER_ENGAGEMENT_RECHECK_MS: int(10_000, 10, 3_600_000),
  /** ...at most this many times; then it is refused: counted, logged, never stored. */
  CONSUMER_ENGAGEMENT_RECHECKS: int(30, 1, 10_000),
};

export type ConsumerConfig = Parsed<typeof consumerSchema>;

export function loadConsumerConfig(env: Env = process.env): ConsumerConfig {
  const config = parseEnv(consumerSchema, env);
  checkAuth(config, env);
  return config;
}
