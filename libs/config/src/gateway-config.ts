/** The gateway's variables (docs/OPERATIONS.md lists them all). */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { ConfigError, int, optionalStr, parseEnv, str, type Parsed } from './schema';
import { auth, checkAuth, common, pubsub, redis, type Env } from './shared-config';
import { checkWebPushPublic, webPushPublic } from './webpush-config';

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
  /**
   * A category message goes to this many of the gateway's sessions in one turn of the event loop,
   * at most; the rest follow in the next turns (the notes behind it wait, so order holds). Lower,
   * the first members get it sooner and the loop is held less long (pings, connects and acks are
   * served between); but each turn's frames wait for their own exposure log write, and on a
   * machine where Redis shares the cores with the clients the last member got it later (1,000:
   * +40 %). The default keeps one process's sockets in one turn (docs/BENCHMARKS.md, "A
   * broadcast's fan-out over turns").
   */
  FANOUT_SESSIONS_PER_TURN: int(20_000, 1, 1_000_000),
  /** Message bodies kept in the in-process LRU cache. */
  BODY_CACHE_MAX: int(10_000, 1),
  /**
   * Updated and recalled messages remembered (the newest version to push, or "never push"), for
   * pushes already holding an older body when the change arrives.
   */
  CHANGED_MESSAGES_MAX: int(10_000, 1),
  /**
   * Message ids each session remembers as received, newest last: an update or a recall reaches a
   * session as an `update` / `delete` frame when the id is among them (its last N messages).
   */
  WS_RECENT_IDS: int(32, 0, 10_000),
  /** Largest frame a client may send. */
  WS_MAX_PAYLOAD_BYTES: int(16 * 1024, 64),
  /** Error frames one connection may earn before it is closed with 4008 (policy). */
  WS_MAX_FRAME_ERRORS: int(10, 1, 10_000),
  /** Frames per second a connection may send (acks included); more closes it with 4008. */
  WS_MAX_FRAMES_PER_SECOND: int(100, 1, 100_000),
  /**
   * Engagement event ids (`event` frames: opened, clicked, dismissed) one connection may send per
   * second; more are dropped and counted (herald_gateway_events_refused_total{reason="budget"}).
   */
  WS_MAX_EVENTS_PER_SECOND: int(200, 1, 100_000),
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
  /** Acks go to Redis at most this often (all users' acks of the window in one write); 0: every turn. */
  ACK_WINDOW_MS: int(10, 0, 1000),
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
  /**
   * Longest an exposure event waits for its publish call to fill (EXPOSURE_BATCH_MAX_MESSAGES).
   * Only below ~5,000 pushes a second does it decide: there each call costs the gateway, Pub/Sub
   * and the consumer about as much as its events, and 100 ms makes a fifth of the calls 20 ms
   * made (docs/BENCHMARKS.md). Delivery does not wait on it: only the exposure's way to Pub/Sub.
   */
  EXPOSURE_BATCH_MAX_MS: int(100, 1, 10_000),
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
   * Write-ahead log writes are at least this far apart: the events of the pushes in between wait
   * and go in one write (0: one write per turn of the event loop). Bounds the delay it adds.
   */
  EXPOSURE_LOG_WINDOW_MS: int(5, 0, 100),
  /**
   * TEST ONLY: shifts the exposure publisher's clock by this many ms (a gateway on a machine whose
   * clock is off), for the clock-skew fault test. Refused with NODE_ENV=production.
   */
  HERALD_TEST_CLOCK_OFFSET_MS: int(0, -86_400_000, 86_400_000),
  ...webPushPublic,
  /** Web Push subscriptions one user may hold (POST /v1/push-subscriptions); one more is refused (409). */
  WEBPUSH_MAX_SUBSCRIPTIONS: int(10, 1, 100),
};

export type GatewayConfig = Parsed<typeof gatewaySchema>;

export function loadGatewayConfig(env: Env = process.env): GatewayConfig {
  const config = parseEnv(gatewaySchema, env);
  checkAuth(config, env);
  checkWebPushPublic(config);
  if (env.NODE_ENV === 'production' && config.HERALD_TEST_CLOCK_OFFSET_MS !== 0) {
    throw new ConfigError('HERALD_TEST_CLOCK_OFFSET_MS', 'is for tests only; unset it with NODE_ENV=production');
  }
  return config;
}
