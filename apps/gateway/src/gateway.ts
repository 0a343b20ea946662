/**
 * The gateway node: wiring only. It builds the collaborators around one public HTTP server
 * (health, readiness status) that upgrades `GET /ws` to WebSocket, and an admin server on
 * ADMIN_PORT (metrics, readiness with the failing dependency), and closes them in order.
 *
 * The stages (docs/ARCHITECTURE.md has the map): connect.ts (door → auth → subscribe → snapshot
 * → barrier → drain), hub.ts (who is connected) and heartbeat.ts (its sweeps), session.ts (one
 * connection), drain.ts, live-router.ts, ack-batcher.ts / ack-tracker.ts, shutdown.ts (closing
 * sessions on shutdown and on resync), presence.ts, exposure-publisher.ts.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { PubSub } from '@google-cloud/pubsub';
import type { Logger } from '@herald/logger';
import { createVerifier } from '@herald/auth';
import { closeRedis, createRedis, onSubscriberReconnect, spilledEvents, spillOldestAgeMs } from '@herald/redis';
import { BatchPublisher, createPubSub } from '@herald/pubsub';
import { createHttpApp, parseAllowedHosts, REDIS_PING_TIMEOUT_MS, runAll, withTimeout } from '@herald/http';
import { ConfigError, type GatewayConfig } from '@herald/config';
import { createGatewayMetrics } from './metrics';
import { AckBatcher } from './acks/ack-batcher';
import { ExposurePublisher } from './exposure/exposure-publisher';
import { Hub } from './sessions/hub';
import { BodyStore } from './delivery/body-store';
import { LiveRouter } from './delivery/live-router';
import { ControlListener, MessageChanges } from './delivery/message-changes';
import { drainBytesInFlight } from './delivery/drain';
import type { SessionContext } from './sessions/session-context';
import { Door, parseOrigins } from './door/door';
import { AbuseCooldowns } from './door/cooldowns';
import { Connector } from './sessions/connect';
import { HubSweeps } from './sessions/heartbeat';
import { PresenceTracker } from './presence/presence';
import { UserEvents } from './exposure/user-events';
import { closeSessions, EXPOSURES_SHARE, resync, SESSIONS_SHARE } from './sessions/shutdown';
import { registerPushSubscriptionRoutes } from './push/push-subscriptions';

export interface GatewayOptions {
  config: GatewayConfig;
  logger: Logger;
  /** Replaces the Pub/Sub client built from config (tests). */
  pubsub?: PubSub;
}

export interface Gateway {
  /** Listen on HOST:PORT and HOST:ADMIN_PORT; resolves with the public base URL. */
  listen(): Promise<string>;
  /** The admin server's base URL (/metrics, detailed /readyz) once listening. */
  readonly adminUrl: string | undefined;
  close(): Promise<void>;
  readonly hub: Hub;
  readonly publisher: ExposurePublisher;
  readonly presence: PresenceTracker;
}

/** Shown in the OpenAPI document at /docs (the WebSocket itself is docs/PROTOCOL.md's). */
const API = {
  title: 'Herald gateway',
  version: '1',
  description:
    "Users' side: the WebSocket at /ws (docs/PROTOCOL.md: not described here) and the Web Push subscription routes beside it, with the user's own token.",
};

export async function buildGateway({ config, logger, pubsub: givenPubSub }: GatewayOptions): Promise<Gateway> {
  const log = logger.child({ module: 'gateway', gatewayId: config.GATEWAY_ID });
  const redis = createRedis(config, 'commands', 'gateway', logger);
  const sub = createRedis(config, 'subscriber', 'gateway', logger);
  const exposureLog = createRedis(config, 'log', 'gateway', logger);
  const http = await createHttpApp({
    headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
    logger,
    readinessChecks: { redis: async () => void (await withTimeout(redis.ping(), REDIS_PING_TIMEOUT_MS, 'Redis PING')) },
    admin: true,
    api: API,
  });
  const metrics = createGatewayMetrics(http.metrics, {
    exposuresPending: () => publisher.outstanding,
    spilledEvents: () => spilledEvents(redis),
    spillOldestAgeMs: () => spillOldestAgeMs(redis),
  });
  const pubsub = givenPubSub ?? createPubSub(config);
  const exposureTopic = new BatchPublisher(pubsub, config.EXPOSURE_TOPIC);
  // Its channel made before the first push, not by it (batch-publisher.ts warm).
  await exposureTopic.warm();
  const publisher = new ExposurePublisher({
    publisher: exposureTopic,
    redis,
    log: exposureLog,
    gatewayId: config.GATEWAY_ID,
    bufferMax: config.EXPOSURE_BUFFER_MAX,
    batchMax: config.EXPOSURE_BATCH_MAX_MESSAGES,
    batchWaitMs: config.EXPOSURE_BATCH_MAX_MS,
    eventsPerMessage: config.EVENTS_PER_PUBSUB_MESSAGE,
    compression: config.EVENTS_PUBSUB_COMPRESSION,
    claimIdleMs: config.EXPOSURE_SPILL_CLAIM_MS,
    spill: { maxEvents: config.EXPOSURE_SPILL_MAX_EVENTS, maxAgeMs: config.EXPOSURE_SPILL_MAX_AGE_MS },
    logWaitMs: config.EXPOSURE_LOG_WAIT_MS,
    logWindowMs: config.EXPOSURE_LOG_WINDOW_MS,
    clockOffsetMs: config.HERALD_TEST_CLOCK_OFFSET_MS,
    metrics,
    logger: logger.child({ module: 'exposures' }),
  });
  // The live router subscribes to a category's channel while the hub has a session in it.
  const hub = new Hub({ opened: (category) => router.subscribeCategory(category), closed: (category) => router.unsubscribeCategory(category) });
  const bodies = new BodyStore(redis, config.BODY_CACHE_MAX, metrics.bodyLookups);
  const router = new LiveRouter(sub, redis, hub, bodies, logger.child({ module: 'live' }), {
    fanoutPerTurn: config.FANOUT_SESSIONS_PER_TURN,
  });
  const changes = new MessageChanges(config.CHANGED_MESSAGES_MAX);
  const control = new ControlListener(changes, bodies, () => hub.all(), redis, config.GATEWAY_ID, logger.child({ module: 'control' }));
  router.subscribeControl((raw) => control.onNote(raw));
  const door = new Door({
    acceptRate: config.WS_ACCEPT_RATE,
    maxPerAddress: config.WS_MAX_CONNECTIONS_PER_IP,
    allowedOrigins: parseOrigins(config.WS_ALLOWED_ORIGINS),
  });

  const presence = new PresenceTracker({
    redis,
    hub,
    gatewayId: config.GATEWAY_ID,
    heartbeatIntervalMs: config.HEARTBEAT_INTERVAL_MS,
    metrics,
    log: logger.child({ module: 'presence' }),
  });
  const acks = new AckBatcher(redis, metrics, log, config.ACK_WINDOW_MS);
  const cooldowns = new AbuseCooldowns(config.WS_ABUSE_COOLDOWN_MS);
  const events = new UserEvents(publisher, changes, metrics, config.GATEWAY_ID);
  const session: SessionContext = {
    publisher,
    events,
    changes,
    recentIds: config.WS_RECENT_IDS,
    metrics,
    sendBufferMaxBytes: config.SEND_BUFFER_MAX_BYTES,
    maxFrameErrors: config.WS_MAX_FRAME_ERRORS,
    maxFramesPerSecond: config.WS_MAX_FRAMES_PER_SECOND,
    maxEventsPerSecond: config.WS_MAX_EVENTS_PER_SECOND,
    maxUnackedIds: config.WS_MAX_UNACKED_IDS,
    maxIgnoredAckIds: config.WS_MAX_IGNORED_ACK_IDS,
    onAck(s, ids) {
      acks.add(s.userId, ids);
    },
    onPosition(s, category, entry) {
      acks.advance(s, category, entry);
    },
    onAbuse(s) {
      if (!cooldowns.start(s.userId)) return;
      log.info({ userId: s.userId, cooldownMs: config.WS_ABUSE_COOLDOWN_MS }, 'session closed for abuse; refusing the user for a while');
    },
  };
  const verifier = createVerifier(config);
  registerPushSubscriptionRoutes(http.app, {
    redis,
    verifier,
    publicKey: config.WEBPUSH_VAPID_PUBLIC_KEY,
    allowedHosts: allowedHostsOf(config.WEBPUSH_ALLOWED_HOSTS),
    maxPerUser: config.WEBPUSH_MAX_SUBSCRIPTIONS,
    allowedOrigins: parseOrigins(config.WS_ALLOWED_ORIGINS),
    log: logger.child({ module: 'push-subscriptions' }),
  });
  if (!config.WEBPUSH_VAPID_PUBLIC_KEY) log.info('Web Push is off (no WEBPUSH_VAPID_PUBLIC_KEY): /v1/push-subscriptions answers WEBPUSH_DISABLED');
  const connector = new Connector({
    redis,
    hub,
    router,
    presence,
    verifier,
    wss: new WebSocketServer({ noServer: true, maxPayload: config.WS_MAX_PAYLOAD_BYTES, perMessageDeflate: false, clientTracking: false }),
    door,
    cooldowns,
    drain: {
      redis,
      bodies,
      metrics,
      batchSize: config.DRAIN_BATCH_SIZE,
      events,
      maxBytesInFlight: drainBytesInFlight(config.SEND_BUFFER_MAX_BYTES),
    },
    session,
    metrics,
    log,
    maxConnectionsPerUser: config.WS_MAX_CONNECTIONS_PER_USER,
    clockToleranceSeconds: config.AUTH_CLOCK_TOLERANCE_SECONDS,
  });
  http.app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    connector.onUpgrade(request, socket, head).catch((err: unknown) => {
      log.error({ err }, 'upgrade failed');
      socket.destroy();
    });
  });

  const sessionsBudgetMs = config.SHUTDOWN_TIMEOUT_MS * SESSIONS_SHARE;
  const resyncDeps = { hub, metrics, log, closeRate: config.WS_CLOSE_RATE, budgetMs: sessionsBudgetMs };
  onSubscriberReconnect(sub, (why) => {
    // Updates and recalls sent meanwhile were missed: no cached body may be trusted.
    bodies.clear();
    if (connector.accepting) resync(resyncDeps, why);
  });
  const sweeps = new HubSweeps(hub, door, cooldowns, config.HEARTBEAT_INTERVAL_MS);

  let closing: Promise<void> | undefined;
  let adminUrl: string | undefined;

  return {
    hub,
    publisher,
    presence,
    get adminUrl() {
      return adminUrl;
    },
    async listen() {
      // The instance is live before its first session is written.
      await presence.start();
      const listening = await http.listen({ host: config.HOST, port: config.PORT, adminPort: config.ADMIN_PORT });
      const url = listening.url;
      adminUrl = listening.adminUrl;
      http.setReady(true);
      log.info({ url, ws: `${url.replace(/^http/, 'ws')}/ws`, admin: adminUrl }, 'listening');
      return url;
    },
    close() {
      closing ??= runAll([
        () => {
          connector.stopAccepting();
          router.stop();
          http.setReady(false);
          sweeps.stop();
        },
        () => closeSessions([...hub.all()], config.WS_CLOSE_RATE, sessionsBudgetMs),
        () => presence.close(),
        () => http.close(),
        () => acks.close(),
        () => publisher.close(config.SHUTDOWN_TIMEOUT_MS * EXPOSURES_SHARE),
        () => exposureTopic.close(),
        () => (givenPubSub ? undefined : pubsub.close()),
        () => closeRedis(sub),
        () => closeRedis(exposureLog),
        () => closeRedis(redis),
      ]);
      return closing;
    },
  };
}

/** WEBPUSH_ALLOWED_HOSTS parsed; a bad entry stops the start naming the variable. */
function allowedHostsOf(value: string | undefined) {
  try {
    return parseAllowedHosts(value);
  } catch (err) {
    throw new ConfigError('WEBPUSH_ALLOWED_HOSTS', (err as Error).message);
  }
}
