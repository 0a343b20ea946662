/**
 * The client's connections over time (herald-client.ts owns the state machine; this is its
 * transport half): the connection in use, one opened beside it with a renewed token (promoted at
 * its welcome: make before break), and those being closed on purpose. It dials with the current
 * token, and when the connection in use ends, decides from the close policy whether to reconnect
 * (with backoff, or at once when a renewed connection is already there) or to stop.
 */
import { CloseCode, type ServerFrame } from '@herald/types';
import { backoffDelay } from './backoff';
import { ABNORMAL_CLOSURE, closeAction, describeEnd, refusalAction, stoppedInfo, type CloseAction } from './close-policy';
import type { ClientState, DisconnectInfo, StoppedInfo } from './client-events';
import { Connection, type ConnectionEnd } from './connection';
import { HeraldClientError } from './errors';
import type { ResolvedOptions } from './options';
import type { TokenKeeper } from './token-keeper';

/** What the link asks of the client that owns it. */
export interface LinkHost {
  state(): ClientState;
  setState(state: ClientState): void;
  onFrame(connection: Connection, frame: ServerFrame): void;
  error(error: Error): void;
  disconnect(info: DisconnectInfo): void;
  /** The connection in use is gone: what waited to be sent on it waits for the next one. */
  lost(): void;
  /** Stop for good (a terminal end, reconnecting turned off, or no WebSocket could be made). */
  finish(info: StoppedInfo): void;
}

export class Link {
  /** The connection messages and acks go through. */
  private active: Connection | null = null;
  /** A connection opened with a renewed token, promoted to `active` at its welcome. */
  private rotating: Connection | null = null;
  /** Connections being closed on purpose; their end is not a disconnect. */
  private readonly retiring = new Set<Connection>();
  private attempt = 0;
  private retryTimer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly tokens: TokenKeeper,
    private readonly host: LinkHost,
  ) {}

  /** The connection in use, if any. */
  get current(): Connection | null {
    return this.active;
  }

  /** Open a connection: the main one, or one that replaces it with a renewed token. */
  async dial(kind: 'primary' | 'rotation'): Promise<void> {
    const previousExpiry = this.tokens.expiresAt;
    let token: string;
    try {
      token = await this.tokens.current();
    } catch (err) {
      this.host.error(new Error(`the token provider failed: ${err instanceof Error ? err.message : String(err)}`));
      if (kind === 'primary' && this.host.state() !== 'closed') {
        this.retry({ code: ABNORMAL_CLOSURE, reason: 'no token', opened: false, welcomed: false, revealsRefusals: true });
      }
      return;
    }
    if (this.host.state() === 'closed') return;
    if (kind === 'rotation') {
      if (this.rotating || !this.active?.welcomed) return;
      // A provider that hands back a token expiring no later would make us rotate ever faster; the
      // gateway's 4001 at expiry is the fallback.
      const expiresAt = this.tokens.expiresAt;
      if (expiresAt === undefined || (previousExpiry !== undefined && expiresAt <= previousExpiry)) {
        this.host.error(new Error('the token provider returned a token that expires no later than the current one'));
        return;
      }
    }
    let connection: Connection;
    try {
      connection = new Connection(
        {
          WebSocket: this.options.WebSocket,
          url: this.options.url,
          token,
          connectTimeoutMs: this.options.connectTimeoutMs,
          heartbeatIntervalMs: this.options.heartbeatIntervalMs,
        },
        {
          onFrame: (c, frame) => this.host.onFrame(c, frame),
          onBadFrame: (_c, error) => this.host.error(error),
          onEnd: (c, end) => this.onEnd(c, end),
        },
      );
    } catch (err) {
      // The implementation refused to even try (ws:// from an https:// page, a blocked port).
      const why = err instanceof Error ? err.message : String(err);
      this.host.finish({
        code: ABNORMAL_CLOSURE,
        reason: 'the WebSocket could not be created',
        error: new HeraldClientError('CONNECT_FAILED', `The WebSocket could not be created: ${why}`),
      });
      return;
    }
    if (kind === 'rotation') this.rotating = connection;
    else this.active = connection;
  }

  /** `connection` was welcomed: a renewed one takes over (the old one goes quietly); backoff starts over. */
  welcomed(connection: Connection): void {
    if (connection === this.rotating) {
      // Messages the old connection was still sending come again on the new one and are
      // suppressed as duplicates.
      const old = this.active;
      this.active = connection;
      this.rotating = null;
      if (old) {
        this.retiring.add(old);
        void old.close(CloseCode.NORMAL, 'token renewed');
      }
    }
    this.attempt = 0;
    // Rotate to a connection with a renewed token before the current one expires.
    this.tokens.scheduleRenewal(() => {
      if (this.host.state() === 'open') void this.dial('rotation');
    });
  }

  /**
   * The client closes for good: every connection is marked as closing on purpose (its end is no
   * disconnect). Call `close` on what this returns once the client is closed.
   */
  retireAll(): Connection[] {
    const connections = [this.active, this.rotating].filter((c): c is Connection => c !== null);
    for (const c of connections) this.retiring.add(c);
    return connections;
  }

  /**
   * The client stopped: no retry, no renewal; returns the connections to drop (those not being
   * closed on purpose), to be dropped once the client is `closed` (their ends are then ignored).
   */
  detach(): Connection[] {
    clearTimeout(this.retryTimer);
    this.tokens.cancelRenewal();
    const connections = [this.active, this.rotating].filter((c): c is Connection => c !== null && !this.retiring.has(c));
    this.active = null;
    this.rotating = null;
    return connections;
  }

  private onEnd(connection: Connection, end: ConnectionEnd): void {
    if (this.retiring.delete(connection) || this.host.state() === 'closed') return;
    if (connection === this.rotating) {
      // The renewed connection failed; the current one carries on until its token expires (4001).
      this.rotating = null;
      this.host.error(new Error(`a connection with a renewed token failed (${end.code} ${end.reason})`));
      return;
    }
    if (connection !== this.active) return;
    this.active = null;
    this.tokens.cancelRenewal();
    this.host.lost();
    if (this.rotating) {
      // A renewed connection is already on its way: it takes over.
      this.active = this.rotating;
      this.rotating = null;
      this.host.setState('connecting');
      this.host.disconnect({ ...describeEnd(end), action: 'reconnect', reconnectInMs: 0 });
      return;
    }
    this.retry(end);
  }

  /** Decide from how the connection ended: stop, or wait and connect again. */
  private retry(end: ConnectionEnd): void {
    const canRefresh = this.tokens.renewable;
    const action: CloseAction =
      end.refusedStatus !== undefined ? refusalAction(end.refusedStatus, canRefresh) : closeAction(end.code, canRefresh);
    // A browser hides why an upgrade failed (a 401 looks like a network error): ask for a new token
    // next time, in case that was it.
    if (!end.opened && end.refusedStatus === undefined && canRefresh && !end.revealsRefusals) {
      this.tokens.invalidate();
    }
    const reconnect = this.options.reconnect;
    if (action === 'stop' || !reconnect) {
      this.host.disconnect({ ...describeEnd(end), action: 'stop', reconnectInMs: null });
      // Terminal when the end itself was; otherwise reconnecting is turned off.
      return this.host.finish(stoppedInfo(end, action === 'stop'));
    }
    let delay: number;
    if (action === 'restart') {
      this.attempt = 0;
      delay = Math.floor(this.options.random() * reconnect.restartJitterMs);
    } else {
      if (action === 'refresh') this.tokens.invalidate();
      delay = backoffDelay(this.attempt++, reconnect, this.options.random);
    }
    this.host.setState('reconnecting');
    this.host.disconnect({ ...describeEnd(end), action, reconnectInMs: delay });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.host.state() !== 'reconnecting') return;
      this.host.setState('connecting');
      void this.dial('primary');
    }, delay);
  }
}
