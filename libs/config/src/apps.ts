/**
 * Every environment variable Herald reads, per app. The only place that knows variable names and
 * defaults; apps receive the frozen result.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import {
  IDEMPOTENCY_DEFAULT_TTL_SECONDS,
  INBOX_DEFAULT_CAP,
  MESSAGE_DEFAULT_TTL_SECONDS,
  MESSAGE_MAX_TTL_DEFAULT_SECONDS,
} from '@herald/types';
import { DEV_SECRET_PREFIX } from './dev-secret';
import { isKnownPublicSecret } from './known-secrets';
import { bool, ConfigError, hostPorts, int, oneOf, optionalStr, parseEnv, str, url, type Parsed } from './schema';

type Env = Record<string, string | undefined>;

const common = {
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
  HOST: str('0.0.0.0'),
  /** How long shutdown may take before the process exits anyway. */
  SHUTDOWN_TIMEOUT_MS: int(10_000, 100),
  /** A client must send a whole request head (or upgrade request) within this; slowloris guard. */
  HTTP_HEADERS_TIMEOUT_MS: int(10_000, 100, 600_000),
};

const redis = {
  REDIS_URL: url('redis://127.0.0.1:6379', ['redis:', 'rediss:']),
  REDIS_CLUSTER_NODES: hostPorts(),
};

const auth = {
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

const pubsub = {
  PUBSUB_PROJECT_ID: str('herald-dev'),
  /** host:port of a Pub/Sub emulator; unset means Google Cloud itself. */
  PUBSUB_EMULATOR_HOST: optionalStr(),
  EXPOSURE_TOPIC: str('exposures'),
};

export const gatewaySchema = {
  ...common,
  ...redis,
  ...auth,
  ...pubsub,
  PORT: int(8080, 0, 65535),
  /**
   * The admin port: /metrics and a /readyz that names the failing dependency. Keep it off the
   * internet (no Service for clients, a NetworkPolicy for Prometheus); the public PORT serves
   * /healthz and a /readyz with the status only. 0: a free port (tests).
   */
  ADMIN_PORT: int(9080, 0, 65535),
  GATEWAY_ID: str(`${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`),
  /** Ids fetched and pushed per drain step. */
  DRAIN_BATCH_SIZE: int(100, 1, 1000),
  /** Message bodies kept in the in-process LRU cache. */
  BODY_CACHE_MAX: int(10_000, 1),
  /** Largest frame a client may send. */
  WS_MAX_PAYLOAD_BYTES: int(16 * 1024, 64),
  /** Error frames one connection may earn before it is closed with 4008 (policy). */
  WS_MAX_FRAME_ERRORS: int(10, 1, 10_000),
  /** Frames per second a connection may send (acks included); more closes it with 4008. */
  WS_MAX_FRAMES_PER_SECOND: int(100, 1, 100_000),
  /**
   * Ids one session remembers as pushed and not yet acknowledged (the inbox snapshot it drains
   * counts as pushed). Only these cost Redis work when acked; past the bound the oldest is
   * forgotten, so its ack is ignored and the message comes again on the next connection. Keep it
   * at or above INBOX_CAP.
   */
  WS_MAX_UNACKED_IDS: int(1000, 1, 100_000),
  /**
   * Ack ids a connection may send that are not pending for it (never pushed to it, acknowledged
   * already, repeated, or forgotten past WS_MAX_UNACKED_IDS, which raises the allowance by as
   * many); one more closes it with 4008. Ignored ids cost no Redis work.
   */
  WS_MAX_IGNORED_ACK_IDS: int(1000, 0, 1_000_000),
  /**
   * After the server closes a session with 4008 for abuse (frame budget, bad frames, ignored ack
   * ids), the user's new connections to this gateway are refused with 503 OVERLOADED before the
   * upgrade for this long, so an abuser's reconnect loop costs a token check, not a session. 0: off.
   */
  WS_ABUSE_COOLDOWN_MS: int(10_000, 0, 3_600_000),
  /** Open connections per user on one gateway; one more is closed with 4008. */
  WS_MAX_CONNECTIONS_PER_USER: int(20, 1, 100_000),
  /** Open connections per client IP on one gateway; one more is refused with 503 before the upgrade. */
  WS_MAX_CONNECTIONS_PER_IP: int(1000, 1, 1_000_000),
  /** Upgrade requests accepted per second by one gateway; more are answered 503 at once. */
  WS_ACCEPT_RATE: int(2000, 1, 1_000_000),
  /**
   * Sessions closed per second (1012) when the gateway stops or must resync, so the replicas the
   * clients reconnect to are not hit all at once; raised when needed to finish within the
   * shutdown budget. Keep it at or under the other gateways' WS_ACCEPT_RATE.
   */
  WS_CLOSE_RATE: int(2000, 1, 1_000_000),
  /**
   * Comma-separated origins (e.g. https://app.example.com) allowed to open a WebSocket from a
   * browser; a request with another Origin gets 403. Unset: any origin (tokens still required).
   */
  WS_ALLOWED_ORIGINS: optionalStr(),
  /** Server ping interval; a peer that misses one pong is terminated. */
  HEARTBEAT_INTERVAL_MS: int(30_000, 100),
  /**
   * Bytes a session may have queued on its socket before it is closed as a slow consumer. The
   * offline drain keeps at most a quarter of it in flight (plus one message), waiting for the
   * socket to take it, so a drain never trips it; keep it above twice the largest message.
   */
  SEND_BUFFER_MAX_BYTES: int(1024 * 1024, 1024),
  EXPOSURE_BATCH_MAX_MESSAGES: int(500, 1, 1000),
  EXPOSURE_BATCH_MAX_MS: int(20, 1, 10_000),
  /**
   * Exposure events held in memory (queued or being published). Past it, while Pub/Sub is slow or
   * down, events spill to a Redis stream and are replayed, in order, when it is back. 50,000
   * (~15 MB) rides out a few seconds of slow publishing at 18k pushes/s; 10,000 spilled most
   * events of a 10 s live-push benchmark (docs/BENCHMARKS.md).
   */
  EXPOSURE_BUFFER_MAX: int(50_000, 1, 1_000_000),
  /** How long a spilled event being replayed by a gateway that died waits before another takes it. */
  EXPOSURE_SPILL_CLAIM_MS: int(30_000, 100, 3_600_000),
  /**
   * Most events the Redis spill holds (all gateways together, ~400 bytes each in Redis). Past it,
   * new events are not spilled: counted as `dropped` (herald_exposures_published_total), so a long
   * Pub/Sub outage cannot fill Redis and stop deliveries. Keep it well under Redis's free memory.
   */
  EXPOSURE_SPILL_MAX_EVENTS: int(500_000, 1, 100_000_000),
  /**
   * Spilled events older than this are trimmed, unpublished, and counted as `expired`; 0 keeps
   * them until the size bound. One day by default: far longer than any outage worth waiting out.
   */
  EXPOSURE_SPILL_MAX_AGE_MS: int(86_400_000, 0, 30 * 86_400_000),
  /**
   * Longest a push waits for its exposure event to be written ahead to Redis. Past it (or at once
   * when Redis refuses the write, e.g. out of memory) the frame goes out anyway and the event is
   * counted as `unlogged`: it is still published, but a crash before then would lose it.
   */
  EXPOSURE_LOG_WAIT_MS: int(500, 1, 60_000),
  /**
   * TEST ONLY: shifts the exposure publisher's clock by this many ms (a gateway on a machine whose
   * clock is off), for the clock-skew fault test. Refused with NODE_ENV=production.
   */
  HERALD_TEST_CLOCK_OFFSET_MS: int(0, -86_400_000, 86_400_000),
};

/**
 * Upper bound of MAX_RECIPIENTS: one request's notifications, all its recipients on one gateway,
 * must stay under Redis's default pub/sub soft limit (8 MB) even as references (at most 229 bytes
 * each in the subscriber's buffer; see @herald/redis notification.ts): 30,000 × 229 ≈ 6.9 MB.
 * Larger audiences are what categories are for. A batch (POST /v1/messages/batch) is one request:
 * its messages together name at most this many user ids.
 */
export const MAX_RECIPIENTS_LIMIT = 30_000;

export const ingestSchema = {
  ...common,
  ...redis,
  ...auth,
  PORT: int(8081, 0, 65535),
  /** Offline list cap per user (also the most idempotent deliveries remembered per user). */
  INBOX_CAP: int(INBOX_DEFAULT_CAP, 1, 100_000),
  /** TTL of a message sent without ttlSeconds; at most MESSAGE_MAX_TTL_SECONDS. */
  MESSAGE_DEFAULT_TTL_SECONDS: int(MESSAGE_DEFAULT_TTL_SECONDS, 1),
  /** Largest ttlSeconds accepted; also the lifetime of an offline list after its last write. */
  MESSAGE_MAX_TTL_SECONDS: int(MESSAGE_MAX_TTL_DEFAULT_SECONDS, 1),
  /** Largest HTTP body accepted. */
  MAX_BODY_BYTES: int(256 * 1024, 1024),
  /**
   * Largest body of POST /v1/messages/batch (every other route: MAX_BODY_BYTES). Each message in
   * a batch is still held to MAX_BODY_BYTES.
   */
  MAX_BATCH_BODY_BYTES: int(4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
  /** Most user ids one POST /v1/messages may name (at most MAX_RECIPIENTS_LIMIT). */
  MAX_RECIPIENTS: int(1000, 1, MAX_RECIPIENTS_LIMIT),
  /** How long an Idempotency-Key is remembered (Contract: 24 h). */
  IDEMPOTENCY_TTL_SECONDS: int(IDEMPOTENCY_DEFAULT_TTL_SECONDS, 60),
  /**
   * How long a request may hold its key before a repeat may take over (its process died); shorter
   * than IDEMPOTENCY_TTL_SECONDS, or the key could expire under a running request.
   */
  IDEMPOTENCY_LEASE_MS: int(10_000, 100, 600_000),
  /** Category members written per fan-out step (one SSCAN, one batch of pipelined writes). */
  FANOUT_CHUNK_SIZE: int(1000, 1, 10_000),
  /**
   * Run category fan-out jobs in this process. Off: this process only serves the API and queues
   * jobs, and other ingest processes (FANOUT_WORKER on) write the inboxes.
   */
  FANOUT_WORKER: bool(true),
  /** Category fan-out jobs one ingest process runs at once. */
  FANOUT_CONCURRENCY: int(2, 1, 64),
  /**
   * A running fan-out job's lock; when the process running it dies, another worker takes the job
   * over about this long (up to twice) later, resuming from its recorded progress.
   */
  FANOUT_LOCK_MS: int(30_000, 500, 600_000),
  /** Attempts of a fan-out job before it is marked failed (each resumes where the last stopped). */
  FANOUT_ATTEMPTS: int(10, 1, 100),
};

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
  CONSUMER_BATCH_MAX_MS: int(100, 1, 60_000),
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
};

export type GatewayConfig = Parsed<typeof gatewaySchema>;
export type IngestConfig = Parsed<typeof ingestSchema>;
export type ConsumerConfig = Parsed<typeof consumerSchema>;
export type AuthConfig = Parsed<typeof auth>;
export type RedisConfig = Parsed<typeof redis>;
export type PubSubConfig = Parsed<typeof pubsub>;

function checkAuth(config: AuthConfig, env: Env): void {
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

export function loadGatewayConfig(env: Env = process.env): GatewayConfig {
  const config = parseEnv(gatewaySchema, env);
  checkAuth(config, env);
  if (env.NODE_ENV === 'production' && config.HERALD_TEST_CLOCK_OFFSET_MS !== 0) {
    throw new ConfigError('HERALD_TEST_CLOCK_OFFSET_MS', 'is for tests only; unset it with NODE_ENV=production');
  }
  return config;
}

/** Ingest's variables that bound one another (a single variable's parser cannot see them). */
function checkIngest(config: IngestConfig): void {
  if (config.MESSAGE_DEFAULT_TTL_SECONDS > config.MESSAGE_MAX_TTL_SECONDS) {
    throw new ConfigError(
      'MESSAGE_DEFAULT_TTL_SECONDS',
      `must not exceed MESSAGE_MAX_TTL_SECONDS (${config.MESSAGE_MAX_TTL_SECONDS}), got ${config.MESSAGE_DEFAULT_TTL_SECONDS}`,
    );
  }
  // The key's record expires IDEMPOTENCY_TTL_SECONDS after the claim: a lease as long would let
  // it expire under a request still running, and a repeat would then send a second message.
  if (config.IDEMPOTENCY_LEASE_MS >= config.IDEMPOTENCY_TTL_SECONDS * 1000) {
    throw new ConfigError(
      'IDEMPOTENCY_LEASE_MS',
      `must be shorter than IDEMPOTENCY_TTL_SECONDS (${config.IDEMPOTENCY_TTL_SECONDS} s), got ${config.IDEMPOTENCY_LEASE_MS} ms`,
    );
  }
}

/**
 * Every check of ingest's configuration, the relations between variables included: a config that
 * loads is one ingest runs with (buildIngest checks nothing more).
 */
export function loadIngestConfig(env: Env = process.env): IngestConfig {
  const config = parseEnv(ingestSchema, env);
  checkAuth(config, env);
  checkIngest(config);
  return config;
}

export function loadConsumerConfig(env: Env = process.env): ConsumerConfig {
  const config = parseEnv(consumerSchema, env);
  checkAuth(config, env);
  return config;
}
