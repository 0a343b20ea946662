/**
 * The gateway node: wires auth, hub, sessions, drain, live router and exposure publisher around
 * one public HTTP server (health, readiness status) that upgrades `GET /ws` to WebSocket, and an
 * admin server on ADMIN_PORT (metrics, readiness with the failing dependency).
 *
 * Connection flow (docs/ARCHITECTURE.md): verify the token before the upgrade; register the
 * session; subscribe to the user's channel; read categories and inbox in one atomic snapshot;
 * wait until every notification published before the snapshot has been applied (barrier): the
 * live messages among them wait in the session, and a category change among them is newer than
 * or as new as the snapshot; send `welcome`; drain the snapshot, then the live messages that
 * waited, minus those in the snapshot, never more bytes in flight than the socket takes; from
 * then on, live.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { PubSub } from '@google-cloud/pubsub';
import type { GatewayConfig } from '@herald/config';
import type { Logger } from '@herald/logger';
import { CloseCode } from '@herald/types';
import { AuthError, createVerifier, type Principal } from '@herald/auth';
import { closeRedis, createRedis, onSubscriberReconnect, readSnapshot, spillLength, spillOldestAgeMs } from '@herald/redis';
import { createPubSub } from '@herald/pubsub';
import { createHttpApp, runAll } from '@herald/http';
import { createGatewayMetrics } from './metrics';
import { AckBatcher } from './ack-batcher';
import { ExposurePublisher } from './exposure-publisher';
import { Hub } from './hub';
import { BodyStore } from './body-store';
import { LiveRouter } from './live-router';
import { drainBytesInFlight, drainInbox } from './drain';
import { Session, type SessionContext } from './session';
import { claimedSubject, refuseUpgrade, upgradeToken } from './upgrade-auth';
import { Door, parseOrigins } from './door';

/** The one sweep over every session (token expiry, frame budget), no per-session timers. */
const SWEEP_MS = 1000;
/** The session a socket belongs to, kept on the socket itself. */
const SESSION = Symbol('session');
type SessionSocket = WebSocket & { [SESSION]: Session };
/** Shares of SHUTDOWN_TIMEOUT_MS: closing sessions, then flushing exposures; the rest for the connections. */
const SESSIONS_SHARE = 0.4;
const EXPOSURES_SHARE = 0.4;
/** Sessions are closed in steps this far apart, at WS_CLOSE_RATE. */
const CLOSE_STEP_MS = 50;

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
}

export async function buildGateway({ config, logger, pubsub: givenPubSub }: GatewayOptions): Promise<Gateway> {
  const log = logger.child({ module: 'gateway', gatewayId: config.GATEWAY_ID });
  const redis = createRedis(config, 'commands', 'gateway');
  const sub = createRedis(config, 'subscriber', 'gateway');
  const exposureLog = createRedis(config, 'log', 'gateway');
  const http = await createHttpApp({
    headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
    logger,
    readinessChecks: { redis: async () => void (await redis.ping()) },
    admin: true,
  });
  const metrics = createGatewayMetrics(http.metrics, {
    exposuresPending: () => publisher.outstanding,
    spillLength: () => spillLength(redis),
    spillOldestAgeMs: () => spillOldestAgeMs(redis),
  });
  const pubsub = givenPubSub ?? createPubSub(config);
  const topic = pubsub.topic(config.EXPOSURE_TOPIC, {
    batching: { maxMessages: config.EXPOSURE_BATCH_MAX_MESSAGES, maxMilliseconds: config.EXPOSURE_BATCH_MAX_MS },
  });
  const publisher = new ExposurePublisher({
    topic,
    redis,
    log: exposureLog,
    gatewayId: config.GATEWAY_ID,
    bufferMax: config.EXPOSURE_BUFFER_MAX,
    batchMax: config.EXPOSURE_BATCH_MAX_MESSAGES,
    claimIdleMs: config.EXPOSURE_SPILL_CLAIM_MS,
    spill: { maxEvents: config.EXPOSURE_SPILL_MAX_EVENTS, maxAgeMs: config.EXPOSURE_SPILL_MAX_AGE_MS },
    logWaitMs: config.EXPOSURE_LOG_WAIT_MS,
    clockOffsetMs: config.HERALD_TEST_CLOCK_OFFSET_MS,
    metrics,
    logger: logger.child({ module: 'exposures' }),
  });
  const hub = new Hub();
  const bodies = new BodyStore(redis, config.BODY_CACHE_MAX, metrics.bodyLookups);
  const router = new LiveRouter(sub, redis, hub, bodies, logger.child({ module: 'live' }));
  const verifier = createVerifier(config);
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.WS_MAX_PAYLOAD_BYTES,
    perMessageDeflate: false,
    clientTracking: false,
  });
  const drainDeps = {
    redis,
    bodies,
    metrics,
    batchSize: config.DRAIN_BATCH_SIZE,
    maxBytesInFlight: drainBytesInFlight(config.SEND_BUFFER_MAX_BYTES),
  };
  const door = new Door({
    acceptRate: config.WS_ACCEPT_RATE,
    maxPerAddress: config.WS_MAX_CONNECTIONS_PER_IP,
    allowedOrigins: parseOrigins(config.WS_ALLOWED_ORIGINS),
  });

  const acks = new AckBatcher(redis, metrics, log);

  // Users whose session was closed for abuse: user id -> until when their upgrades are refused.
  const cooldowns = new Map<string, number>();

  const ctx: SessionContext = {
    publisher,
    metrics,
    sendBufferMaxBytes: config.SEND_BUFFER_MAX_BYTES,
    maxFrameErrors: config.WS_MAX_FRAME_ERRORS,
    maxFramesPerSecond: config.WS_MAX_FRAMES_PER_SECOND,
    maxUnackedIds: config.WS_MAX_UNACKED_IDS,
    maxIgnoredAckIds: config.WS_MAX_IGNORED_ACK_IDS,
    onAck(session, ids) {
      acks.add(session.userId, ids);
    },
    onAbuse(session) {
      if (config.WS_ABUSE_COOLDOWN_MS === 0) return;
      cooldowns.set(session.userId, Date.now() + config.WS_ABUSE_COOLDOWN_MS);
      log.info({ userId: session.userId, cooldownMs: config.WS_ABUSE_COOLDOWN_MS }, 'session closed for abuse; refusing the user for a while');
    },
  };

  let accepting = true;

  /** Refuses (503 with Retry-After) when `userId` is in its abuse cooldown; true when it did. */
  function refuseCoolingDown(socket: Duplex, userId: string | undefined): boolean {
    const until = userId === undefined ? undefined : cooldowns.get(userId);
    if (until === undefined || until <= Date.now()) return false;
    metrics.connectsRefused.inc({ reason: 'cooldown' });
    refuseUpgrade(socket, 'OVERLOADED', { 'Retry-After': String(Math.ceil((until - Date.now()) / 1000)) });
    return true;
  }

  async function onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', (err) => log.debug({ err }, 'upgrade socket error'));
    if (!accepting) return refuseUpgrade(socket, 'NOT_READY');
    const path = (request.url ?? '').split('?', 1)[0];
    if (path !== '/ws') return refuseUpgrade(socket, 'NOT_FOUND');
    const refused = door.admit(request, socket);
    if (refused) {
      metrics.connectsRefused.inc({ reason: refused === 'OVERLOADED' ? 'overloaded' : 'origin' });
      return refuseUpgrade(socket, refused, refused === 'OVERLOADED' ? { 'Retry-After': '1' } : {});
    }
    const token = upgradeToken(request);
    // A user in the abuse cooldown is refused before the token check: its reconnect loop costs
    // next to nothing. The subject is unverified here, which can only refuse, never admit.
    if (refuseCoolingDown(socket, claimedSubject(token))) return;
    let principal: Principal;
    try {
      principal = await verifier.verify(token);
    } catch (err) {
      const reason = err instanceof AuthError ? err.reason : 'error';
      metrics.connectsRefused.inc({ reason });
      log.info({ reason }, 'upgrade refused');
      // The key set is down: the token may be fine; say "retry", not "get a new token".
      if (reason === 'unavailable') return refuseUpgrade(socket, 'AUTH_UNAVAILABLE', { 'Retry-After': '5' });
      return refuseUpgrade(socket, 'UNAUTHORIZED');
    }
    if (socket.destroyed || !accepting) return refuseUpgrade(socket, 'NOT_READY');
    wss.handleUpgrade(request, socket, head, (ws) => void openSession(ws, principal));
  }

  // One set of socket listeners for every session (no closures per connection): the socket
  // carries its session.
  function onSocketMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
    (this as SessionSocket)[SESSION].onFrame(data, isBinary);
  }
  function onSocketPong(this: WebSocket): void {
    (this as SessionSocket)[SESSION].isAlive = true;
  }
  function onSocketError(this: WebSocket, err: Error): void {
    log.debug({ err, sessionId: (this as SessionSocket)[SESSION].id }, 'socket error');
  }
  function onSocketClose(this: WebSocket): void {
    const session = (this as SessionSocket)[SESSION];
    session.markClosed();
    metrics.connections.dec();
    if (hub.remove(session)) router.unsubscribe(session.userId);
  }

  async function openSession(ws: WebSocket, principal: Principal): Promise<void> {
    const started = performance.now();
    const expiresAt = principal.exp ? (principal.exp + config.AUTH_CLOCK_TOLERANCE_SECONDS) * 1000 : Infinity;
    const session = new Session(principal.userId, ws, expiresAt, ctx);
    (ws as SessionSocket)[SESSION] = session;
    ws.on('message', onSocketMessage);
    ws.on('pong', onSocketPong);
    ws.on('error', onSocketError);
    ws.on('close', onSocketClose);
    metrics.connections.inc();
    hub.add(session);
    if (hub.sessionsOf(session.userId).size > config.WS_MAX_CONNECTIONS_PER_USER) {
      metrics.connectsRefused.inc({ reason: 'user_limit' });
      session.close(CloseCode.POLICY);
      return;
    }
    try {
      await router.subscribe(session.userId);
      const snapshot = await readSnapshot(redis, session.userId);
      await router.barrier(session.userId);
      if (!session.categoriesNoted) hub.setCategories(session, snapshot.categories);
      const categories = hub.categoriesOfSession(session);
      // The client may ack snapshot ids as soon as it has the welcome (acks it held while away).
      session.acks.expect(snapshot.ids);
      session.sendFrame({ type: 'welcome', sessionId: session.id, userId: session.userId, categories });
      await drainInbox(drainDeps, session, snapshot.ids);
      metrics.drainSeconds.observe((performance.now() - started) / 1000);
    } catch (err) {
      // A client that left during its connect is no failure of ours.
      if (session.closed) log.debug({ err, sessionId: session.id }, 'client left during the connect');
      else log.error({ err, sessionId: session.id }, 'connect failed; asking the client to retry later');
      session.close(CloseCode.OVERLOADED);
    }
  }

  // Notifications published while the subscriber was disconnected are gone (pub/sub keeps
  // none): the messages are in the inboxes, so every session is closed with 1012 and its client
  // reconnects and drains them.
  function resync(why: string): void {
    if (!accepting || hub.size === 0) return;
    log.warn({ sessions: hub.size, why }, 'Redis subscriber reconnected; closing sessions with 1012 so clients resync');
    metrics.resyncs.inc();
    void closeSessions(hub, config.WS_CLOSE_RATE, config.SHUTDOWN_TIMEOUT_MS * SESSIONS_SHARE);
  }
  onSubscriberReconnect(sub, resync);

  http.app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    onUpgrade(request, socket, head).catch((err: unknown) => {
      log.error({ err }, 'upgrade failed');
      socket.destroy();
    });
  });

  const heartbeat = setInterval(() => {
    for (const session of hub.all()) {
      if (!session.isAlive) {
        session.ws.terminate();
        continue;
      }
      session.isAlive = false;
      session.ws.ping();
    }
  }, config.HEARTBEAT_INTERVAL_MS);
  // Once a second: token expiry, the per-connection frame budget, the door's accept window, the
  // abuse cooldowns that ran out.
  const sweep = setInterval(() => {
    const now = Date.now();
    door.tick();
    for (const [userId, until] of cooldowns) if (until <= now) cooldowns.delete(userId);
    for (const session of hub.all()) {
      session.framesThisSecond = 0;
      if (now >= session.expiresAt) session.close(CloseCode.TOKEN_EXPIRED);
    }
  }, SWEEP_MS);

  let closing: Promise<void> | undefined;
  let adminUrl: string | undefined;

  return {
    hub,
    publisher,
    get adminUrl() {
      return adminUrl;
    },
    async listen() {
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
          accepting = false;
          http.setReady(false);
          clearInterval(heartbeat);
          clearInterval(sweep);
        },
        () => closeSessions(hub, config.WS_CLOSE_RATE, config.SHUTDOWN_TIMEOUT_MS * SESSIONS_SHARE),
        () => http.close(),
        () => publisher.close(config.SHUTDOWN_TIMEOUT_MS * EXPOSURES_SHARE),
        () => (givenPubSub ? undefined : pubsub.close()),
        () => closeRedis(sub),
        () => closeRedis(exposureLog),
        () => closeRedis(redis),
      ]);
      return closing;
    },
  };
}

/**
 * Close every session with 1012 (restart: reconnect, elsewhere if need be), `ratePerSecond` at a
 * time so the gateways the clients go to are not hit by all of them at once; faster when that
 * rate would not finish in three quarters of `budgetMs`. Sockets that have not answered the close
 * by `budgetMs` are cut off.
 */
async function closeSessions(hub: Hub, ratePerSecond: number, budgetMs: number): Promise<void> {
  const deadline = Date.now() + budgetMs;
  const sessions = [...hub.all()];
  const rate = Math.max(ratePerSecond, sessions.length / ((budgetMs * 0.75) / 1000));
  const perStep = Math.max(1, Math.ceil((rate * CLOSE_STEP_MS) / 1000));
  for (let i = 0; i < sessions.length; i += perStep) {
    if (i > 0) await delay(CLOSE_STEP_MS);
    for (const session of sessions.slice(i, i + perStep)) session.close(CloseCode.SERVER_RESTART);
  }
  while (hub.size > 0 && Date.now() < deadline) await delay(20);
  for (const session of hub.all()) session.ws.terminate();
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
