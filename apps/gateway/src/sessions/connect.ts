/**
 * The connect flow, from the upgrade request to a live session (docs/ARCHITECTURE.md):
 * door limits and the abuse cooldown → verify the token before the upgrade → register the
 * session in the hub → subscribe to the user's channel → read categories and inbox in one atomic
 * snapshot → barrier: wait until every notification published before the snapshot has been
 * applied (the live messages among them wait in the session, and a category change among them
 * is newer than or as new as the snapshot) → `welcome` → drain the snapshot, then the live
 * messages that waited, minus those in the snapshot → live.
 *
 * One set of socket listeners serves every session (no closures per connection): the socket
 * carries its session.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '@herald/logger';
import { CloseCode } from '@herald/types';
import { AuthError, type Principal, type TokenVerifier } from '@herald/auth';
import { LOG_START, readCategoryLog, readSnapshot, readTrimmed, type HeraldRedis, type SessionSnapshot } from '@herald/redis';
import type { AbuseCooldowns } from '../door/cooldowns';
import type { Door } from '../door/door';
import { drainInbox, type CategoryStart, type DrainDeps } from '../delivery/drain';
import type { Hub } from './hub';
import type { LiveRouter } from '../delivery/live-router';
import type { PresenceTracker } from '../presence/presence';
import type { GatewayMetrics } from '../metrics';
import { Session } from './session';
import type { SessionContext } from './session-context';
import { claimedSubject, refuseUpgrade, upgradeToken } from '../door/upgrade-auth';
import { readSmallTextFrames } from '../frames/ws-read';
import { receiveAckBytes } from '../frames/client-intake';

/** The session a socket belongs to, kept on the socket itself. */
const SESSION = Symbol('session');
type SessionSocket = WebSocket & { [SESSION]: Session };

export interface ConnectDeps {
  redis: HeraldRedis;
  hub: Hub;
  router: LiveRouter;
  presence: PresenceTracker;
  verifier: TokenVerifier;
  wss: WebSocketServer;
  door: Door;
  cooldowns: AbuseCooldowns;
  drain: DrainDeps;
  session: SessionContext;
  metrics: GatewayMetrics;
  log: Logger;
  maxConnectionsPerUser: number;
  /** Added to the token's `exp` (AUTH_CLOCK_TOLERANCE_SECONDS). */
  clockToleranceSeconds: number;
}

export class Connector {
  private open = true;
  /** The socket listeners that need the gateway's collaborators, shared by every socket. */
  private readonly onSocketClose: (this: WebSocket) => void;
  private readonly onSocketError: (this: WebSocket, err: Error) => void;

  constructor(private readonly deps: ConnectDeps) {
    // Made once: `this` inside a socket listener is the socket.
    const { hub, router, presence, metrics, log } = deps;
    this.onSocketClose = function (this: WebSocket) {
      const session = (this as SessionSocket)[SESSION];
      session.markClosed();
      metrics.connections.dec();
      presence.closed(session);
      if (hub.remove(session)) router.unsubscribe(session.userId);
    };
    this.onSocketError = function (this: WebSocket, err: Error) {
      log.debug({ err, sessionId: (this as SessionSocket)[SESSION].id }, 'socket error');
    };
  }

  /** False once the gateway is closing: upgrades are refused with 503. */
  get accepting(): boolean {
    return this.open;
  }

  stopAccepting(): void {
    this.open = false;
  }

  /** Door, cooldown, token; then the upgrade and the session's connect. */
  async onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { door, metrics, verifier, log } = this.deps;
    socket.on('error', (err) => log.debug({ err }, 'upgrade socket error'));
    if (!this.open) return refuseUpgrade(socket, 'NOT_READY');
    const path = (request.url ?? '').split('?', 1)[0];
    if (path !== '/ws') return refuseUpgrade(socket, 'NOT_FOUND');
    const refused = door.admit(request, socket);
    if (refused) {
      metrics.connectsRefused.inc({ reason: refused === 'OVERLOADED' ? 'overloaded' : 'origin' });
      return refuseUpgrade(socket, refused, refused === 'OVERLOADED' ? { 'Retry-After': '1' } : {});
    }
    const token = upgradeToken(request);
    // A user in the abuse cooldown is refused before the token check: its reconnect loop costs
    // next to nothing. The subject is unverified here, which can only refuse, never admit; it is
    // read only while some user is cooling down.
    if (this.deps.cooldowns.any && this.refuseCoolingDown(socket, claimedSubject(token))) return;
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
    if (socket.destroyed || !this.open) return refuseUpgrade(socket, 'NOT_READY');
    this.deps.wss.handleUpgrade(request, socket, head, (ws) => void this.connect(ws, principal));
  }

  /** Refuses (503 with Retry-After) when `userId` is in its abuse cooldown; true when it did. */
  private refuseCoolingDown(socket: Duplex, userId: string | undefined): boolean {
    const remainingMs = this.deps.cooldowns.remainingMs(userId);
    if (remainingMs === 0) return false;
    this.deps.metrics.connectsRefused.inc({ reason: 'cooldown' });
    refuseUpgrade(socket, 'OVERLOADED', { 'Retry-After': String(Math.ceil(remainingMs / 1000)) });
    return true;
  }

  /** Register the session, then subscribe → snapshot → barrier → welcome → drain → live. */
  private async connect(ws: WebSocket, principal: Principal): Promise<void> {
    const { hub, router, redis, metrics, log } = this.deps;
    const started = performance.now();
    const expiresAt = principal.exp ? (principal.exp + this.deps.clockToleranceSeconds) * 1000 : Infinity;
    const session = new Session(principal.userId, ws, expiresAt, this.deps.session);
    (ws as SessionSocket)[SESSION] = session;
    ws.on('message', onSocketMessage);
    readSmallTextFrames(ws, readSmallFrame);
    ws.on('pong', onSocketPong);
    ws.on('error', this.onSocketError);
    ws.on('close', this.onSocketClose);
    metrics.connections.inc();
    hub.add(session);
    if (hub.sessionsOf(session.userId).size > this.deps.maxConnectionsPerUser) {
      metrics.connectsRefused.inc({ reason: 'user_limit' });
      session.close(CloseCode.POLICY);
      return;
    }
    // Before the snapshot, on the same connection and the user's slot: by the welcome it is in Redis.
    this.deps.presence.opened(session);
    try {
      await router.subscribe(session.userId);
      const snapshot = await readSnapshot(redis, session.userId);
      await router.barrier(session.userId);
      if (!session.categoriesNoted) hub.setCategories(session, snapshot.categories);
      const categories = hub.categoriesOfSession(session);
      const logs = await this.readLogs(session, snapshot, categories);
      // The client may ack snapshot ids as soon as it has the welcome (acks it held while away).
      session.acks.expect(snapshot.ids);
      for (const { first } of logs) session.acks.expect(first.map((e) => e.id));
      session.sendFrame({ type: 'welcome', sessionId: session.id, userId: session.userId, categories });
      await drainInbox(this.deps.drain, session, snapshot.ids, logs);
      metrics.drainSeconds.observe((performance.now() - started) / 1000);
    } catch (err) {
      // A client that left during its connect is no failure of ours.
      if (session.closed) log.debug({ err, sessionId: session.id }, 'client left during the connect');
      else log.error({ err, sessionId: session.id }, 'connect failed; asking the client to retry later');
      session.close(CloseCode.OVERLOADED);
    }
  }

  /**
   * Once the gateway is subscribed to the session's categories (every later entry reaches the
   * session live), the first page of each category's log after the user's position. A category
   * the snapshot did not hold (joined during the connect) is followed live only (category-cursors.ts);
   * one without a position (a member from before category logs) is read whole.
   */
  private async readLogs(session: Session, snapshot: SessionSnapshot, categories: string[]): Promise<CategoryStart[]> {
    const known = new Set(snapshot.categories);
    const read = categories.filter((c) => known.has(c));
    if (read.length === 0) return [];
    await this.deps.router.categoriesReady(categories);
    const starts = new Map(read.map((c) => [c, snapshot.positions.get(c) ?? LOG_START]));
    for (const [category, position] of starts) session.categories.start(category, position);
    const { redis, drain } = this.deps;
    return Promise.all(
      read.map(async (category) => {
        const after = starts.get(category)!;
        const [first, lost] = await Promise.all([readCategoryLog(redis, category, after, drain.batchSize), readTrimmed(redis, category, after)]);
        return { category, first, lost };
      }),
    );
  }
}

function onSocketMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  (this as SessionSocket)[SESSION].onFrame(data, isBinary);
}

/** A small frame read in place (frames/ws-read.ts): an ack of one id is applied from its bytes. */
function readSmallFrame(ws: WebSocket, bytes: Buffer, length: number): boolean {
  return receiveAckBytes((ws as SessionSocket)[SESSION], bytes, length);
}

function onSocketPong(this: WebSocket): void {
  (this as SessionSocket)[SESSION].heardFrom();
}
