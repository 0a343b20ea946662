/** Ingest's variables, and the relations between them. */
import {
  IDEMPOTENCY_DEFAULT_TTL_SECONDS,
  INBOX_DEFAULT_CAP,
  MESSAGE_DEFAULT_TTL_SECONDS,
  MESSAGE_MAX_TTL_DEFAULT_SECONDS,
} from '@herald/types';
import { bool, ConfigError, hostPorts, int, parseEnv, str, type Parsed } from './schema';
import { auth, checkAuth, common, pubsub, redis, type Env } from './shared-config';
import { checkWebPushSender, webPushSender } from './webpush-config';

/**
 * Upper bound of MAX_RECIPIENTS: one request's notifications, all its recipients on one gateway,
 * must stay under Redis's default pub/sub soft limit (8 MB) even as references (at most 229 bytes
 * each in the subscriber's buffer; see @herald/redis notification.ts): 30,000 × 229 ≈ 6.9 MB.
 * Larger audiences are what categories are for. A batch (POST /v1/messages/batch) is one request:
 * its messages together name at most this many user ids.
 */
export const MAX_RECIPIENTS_LIMIT = 30_000;

/** Webhooks for producers (issue 18, docs/WEBHOOKS.md): the endpoints' API, the dispatcher, the delivery worker. */
function webhookSchema() {
  return {
    /**
     * Run the webhook dispatcher and delivery worker in this process: pull EXPOSURE_TOPIC through
     * WEBHOOK_SUBSCRIPTION, batch the matching events per endpoint, post them. Off: this process
     * serves the /v1/webhooks API only.
     */
    WEBHOOK_DISPATCHER: bool(false),
    /** The dispatcher's own subscription on EXPOSURE_TOPIC (created when missing), apart from the consumer's. */
    WEBHOOK_SUBSCRIPTION: str('webhooks'),
    /** Lease of a pulled event until its batch is queued (the subscription's ackDeadlineSeconds). */
    WEBHOOK_ACK_DEADLINE_SECONDS: int(60, 10, 600),
    /** Pulled events held at most before their batches are queued (flow control: a packed message counts its events). */
    WEBHOOK_MAX_OUTSTANDING: int(1000, 1, 100_000),
    /** The dispatcher's `StreamingPull` streams (one carries ~1.8k messages/s from Google's emulator, each up to EVENTS_PER_PUBSUB_MESSAGE events). */
    WEBHOOK_STREAMS: int(1, 1, 32),
    /** Events in one request to an endpoint at most. */
    WEBHOOK_BATCH_MAX: int(100, 1, 1000),
    /** How long a batch waits for more events after its first one. */
    WEBHOOK_BATCH_WINDOW_MS: int(1000, 1, 60_000),
    /** How often the dispatcher reads the endpoints again (a new endpoint gets events from then on). */
    WEBHOOK_REFRESH_MS: int(5000, 50, 600_000),
    /** Requests to endpoints one process makes at once. */
    WEBHOOK_CONCURRENCY: int(16, 1, 256),
    /** Of those, requests to one endpoint at once (less than WEBHOOK_CONCURRENCY): a slow endpoint holds at most this many. */
    WEBHOOK_ENDPOINT_CONCURRENCY: int(2, 1, 64),
    /** A request that has not answered (its whole response) within this has failed. */
    WEBHOOK_TIMEOUT_MS: int(10_000, 100, 120_000),
    /** First pause after a failed request; doubles with each failure of the batch. */
    WEBHOOK_RETRY_INITIAL_MS: int(5000, 10, 3_600_000),
    /** Longest pause between two attempts of a batch. */
    WEBHOOK_RETRY_MAX_DELAY_MS: int(3_600_000, 10, 86_400_000),
    /** A batch still failing this long after it was made is dead-lettered and its endpoint disabled. */
    WEBHOOK_RETRY_PERIOD_MS: int(86_400_000, 100, 7 * 86_400_000),
    /** Endpoints one producer (token sub) may have. */
    WEBHOOK_MAX_PER_PRODUCER: int(10, 1, 1000),
    /** Dead-lettered batches kept per endpoint (newest first). */
    WEBHOOK_DEAD_LETTERS_KEPT: int(100, 0, 10_000),
    /**
     * `host:port` pairs (comma-separated) an endpoint may use over plain http and whose addresses
     * may be loopback or private: development and tests. Unset: https to public addresses only.
     */
    WEBHOOK_ALLOWED_HOSTS: hostPorts(),
  };
}

export const ingestSchema = {
  ...common,
  ...redis,
  ...auth,
  ...pubsub,
  PORT: int(8081, 0, 65535),
  /** Offline list cap per user (also the most idempotent deliveries remembered per user). */
  INBOX_CAP: int(INBOX_DEFAULT_CAP, 1, 100_000),
  /**
   * Entries one category's log keeps (a category message is stored once, in its category's log);
   * a member offline for more messages than this misses the oldest, as an inbox past INBOX_CAP.
   */
  CATEGORY_LOG_CAP: int(INBOX_DEFAULT_CAP, 1, 100_000),
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
  /**
   * How long an update or a recall waits for every gateway to confirm it applied the change (no
   * gateway delivers the old version after that); a gateway that has not confirmed by then is
   * reported in the answer and logged, and the change stands.
   */
  CONTROL_CONFIRM_TIMEOUT_MS: int(2000, 10, 60_000),
  /** How far ahead a message's `sendAt` may be (POST /v1/messages): 30 days. */
  SCHEDULE_MAX_AHEAD_SECONDS: int(30 * 24 * 3600, 1, 365 * 24 * 3600),
  /**
   * Run scheduled sends in this process (a BullMQ worker on the queue `herald-scheduled`). Off:
   * this process accepts scheduled messages and other ingest processes (on) send them.
   */
  SCHEDULE_WORKER: bool(true),
  /** Scheduled sends one ingest process runs at once. */
  SCHEDULE_CONCURRENCY: int(8, 1, 256),
  /**
   * Relay the event outbox (message lifecycle and dropped-id events, for analysts) to Pub/Sub
   * EXPOSURE_TOPIC from this process. Every process appends to the outbox; one relay is enough,
   * more share the work. Off: events wait in the outbox (within its bounds) for a relay.
   */
  EVENTS_RELAY: bool(true),
  /** Events the outbox holds at most (Pub/Sub down, no relay); past it new ones are refused and counted. */
  EVENTS_OUTBOX_MAX_EVENTS: int(500_000, 1, 100_000_000),
  /** Outbox entries older than this are trimmed unpublished (counted); 0: no age bound. */
  EVENTS_OUTBOX_MAX_AGE_MS: int(86_400_000, 0, 30 * 86_400_000),
  /**
   * Single sends' Redis writes at least this far apart (ms): the requests in between wait (at most
   * this long) and send together, one write and one reply for all; one after a quiet spell waits
   * for nothing. 0: each request sends at once (per-turn batching only).
   */
  SEND_WINDOW_MS: int(2, 0, 100),
  /**
   * Appends to the outbox at least this far apart (ms): the requests in between share one Redis
   * round and wait (at most this long); one after a quiet spell waits for nothing. 0: one per turn.
   */
  EVENTS_OUTBOX_WINDOW_MS: int(5, 0, 100),
  /** Events one relay round reads and publishes. */
  EVENTS_RELAY_BATCH: int(1000, 1, 10_000),
  /** Entries a relay read and left unpublished this long (it died) are taken over by another. */
  EVENTS_RELAY_CLAIM_MS: int(30_000, 100, 3_600_000),
  /** A relay looks at the outbox at least this often (another process's leftovers). */
  EVENTS_RELAY_POLL_MS: int(1000, 10, 60_000),
  /**
   * A relay's rounds at least this far apart (ms), unless a round read a full batch: the events
   * appended in between go in one publish call. Each call costs ingest and Pub/Sub the same
   * whatever it carries; events reach analysts up to this much later. 0: a round as soon as the
   * last one ended.
   */
  EVENTS_RELAY_WINDOW_MS: int(100, 0, 10_000),
  ...webhookSchema(),
  ...webPushSender,
  /**
   * Send Web Push in this process (a BullMQ worker on the queue `herald-webpush`). Off: this process
   * queues pushes and other ingest processes (on) send them.
   */
  WEBPUSH_WORKER: bool(true),
  /** Pushes one ingest process sends at once (one job: a user's subscriptions). */
  WEBPUSH_CONCURRENCY: int(16, 1, 1024),
  /** Attempts of a push that fails (timeout, network error, 5xx) before it counts as failed. */
  WEBPUSH_ATTEMPTS: int(5, 1, 20),
  /** The first retry's delay; each next one doubles it. */
  WEBPUSH_BACKOFF_MS: int(2000, 1, 3_600_000),
  /** A push request (connect, TLS, answer) must finish within this. */
  WEBPUSH_TIMEOUT_MS: int(10_000, 50, 120_000),
  /** A push service's 429 Retry-After is honoured up to this; longer ones wait this long. */
  WEBPUSH_MAX_RETRY_AFTER_SECONDS: int(600, 1, 86_400),
};

export type IngestConfig = Parsed<typeof ingestSchema>;

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
  // One slow endpoint must leave slots to the others.
  if (config.WEBHOOK_ENDPOINT_CONCURRENCY >= config.WEBHOOK_CONCURRENCY) {
    throw new ConfigError(
      'WEBHOOK_ENDPOINT_CONCURRENCY',
      `must be less than WEBHOOK_CONCURRENCY (${config.WEBHOOK_CONCURRENCY}), got ${config.WEBHOOK_ENDPOINT_CONCURRENCY}`,
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
  checkWebPushSender(config, env);
  checkIngest(config);
  return config;
}
