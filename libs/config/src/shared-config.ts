/**
 * The variables every app shares (logging, HTTP, Redis, auth, Pub/Sub) and the auth checks every
 * app runs. With gateway-config.ts, ingest-config.ts and consumer-config.ts, the only place that
 * knows variable names and defaults; apps receive the frozen result.
 */
import { DEV_SECRET_PREFIX } from './dev-secret';
import { isKnownPublicSecret } from './known-secrets';
import { ConfigError, hostPorts, int, oneOf, optionalStr, str, url, type Parsed } from './schema';

export type Env = Record<string, string | undefined>;

export const common = {
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
  HOST: str('0.0.0.0'),
  /** How long shutdown may take before the process exits anyway. */
  SHUTDOWN_TIMEOUT_MS: int(10_000, 100),
  /** A client must send a whole request head (or upgrade request) within this; slowloris guard. */
  HTTP_HEADERS_TIMEOUT_MS: int(10_000, 100, 600_000),
};

export const redis = {
  REDIS_URL: url('redis://127.0.0.1:6379', ['redis:', 'rediss:']),
  REDIS_CLUSTER_NODES: hostPorts(),
};

export const auth = {
  AUTH_JWT_SECRET: optionalStr(),
  AUTH_JWKS_URL: url(undefined, ['http:', 'https:']),
  AUTH_ISSUER: optionalStr(),
  AUTH_AUDIENCE: optionalStr(),
  AUTH_CLOCK_TOLERANCE_SECONDS: int(5, 0, 300),
  /** Least time between two JWKS fetches for unknown `kid`s: a flood of made-up kids costs one. */
  AUTH_JWKS_COOLDOWN_MS: int(30_000, 0, 3_600_000),
  /** Keys fetched from the JWKS URL are refreshed after this long. */
  AUTH_JWKS_CACHE_MAX_AGE_MS: int(600_000, 1000, 86_400_000),
  /** Verified tokens kept (principal by token, until `exp`, 5 min at most); 0 turns the cache off. */
  AUTH_CACHE_MAX_TOKENS: int(10_000, 0, 1_000_000),
};

export const pubsub = {
  PUBSUB_PROJECT_ID: str('herald-dev'),
  /** host:port of a Pub/Sub emulator; unset means Google Cloud itself. */
  PUBSUB_EMULATOR_HOST: optionalStr(),
  EXPOSURE_TOPIC: str('exposures'),
  /**
   * Events a gateway or ingest packs into one Pub/Sub message, at most (JSON lines, attribute
   * `events`; docs/PROTOCOL.md, "The events topic"). Consumers read both formats; 1 publishes one
   * event per message, the format consumers before it read (upgrade them first, docs/OPERATIONS.md).
   */
  EVENTS_PER_PUBSUB_MESSAGE: int(100, 1, 1000),
  /**
   * How a gateway or ingest compresses a packed message (attribute `encoding`; docs/PROTOCOL.md,
   * "The events topic"): `deflate` sends its data ~6× smaller (Pub/Sub bills bytes; Google's
   * emulator's CPU in a broadcast halves), but through the API at 1,000 messages a second it cost
   * every process between nothing and ~12 % more (docs/BENCHMARKS.md, "Events compressed…" and
   * "Five server processes of every peer…"), so it is opt-in; upgrade consumers first (docs/OPERATIONS.md). `none` also suits anything else that reads
   * the topic's data as text (a BigQuery subscription: docs/ANALYTICS.md).
   */
  EVENTS_PUBSUB_COMPRESSION: oneOf(['deflate', 'none'] as const, 'none'),
};

export type AuthConfig = Parsed<typeof auth>;
export type RedisConfig = Parsed<typeof redis>;
export type PubSubConfig = Parsed<typeof pubsub>;

export function checkAuth(config: AuthConfig, env: Env): void {
  if (!config.AUTH_JWT_SECRET && !config.AUTH_JWKS_URL) {
    throw new ConfigError('AUTH_JWT_SECRET', 'or AUTH_JWKS_URL must be set (how would tokens be verified?)');
  }
  if (config.AUTH_JWT_SECRET && Buffer.byteLength(config.AUTH_JWT_SECRET) < 32) {
    throw new ConfigError('AUTH_JWT_SECRET', 'must be at least 32 bytes long');
  }
  // Anyone with the repository can mint tokens for a development secret (herald token).
  if (env.NODE_ENV === 'production' && config.AUTH_JWT_SECRET?.startsWith(DEV_SECRET_PREFIX)) {
    throw new ConfigError('AUTH_JWT_SECRET', `is a development secret (${DEV_SECRET_PREFIX}…); NODE_ENV=production needs a real one`);
  }
  if (env.NODE_ENV === 'production' && config.AUTH_JWT_SECRET && isKnownPublicSecret(config.AUTH_JWT_SECRET)) {
    throw new ConfigError(
      'AUTH_JWT_SECRET',
      'is published in the Herald repository (a test or example secret); NODE_ENV=production needs your own, e.g. `openssl rand -hex 32`',
    );
  }
}
