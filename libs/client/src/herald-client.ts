/**
 * The Herald client: one logical, self-healing subscription to a user's messages over the
 * gateway's WebSocket. It reconnects with backoff, renews tokens, acknowledges in batches, hands
 * each message id to the app once, and stops on the codes after which retrying cannot help.
 *
 *   const client = new HeraldClient({ url: 'wss://push.example.com/ws', token: getToken });
 *   for await (const message of client.messages()) show(message.payload);
 *
 * docs/CLIENT.md describes the behaviour and the reasons for it.
 *
 * Why this file is longer than ~300 lines: it is one state machine (idle → connecting → open →
 * reconnecting → closed, plus a rotation connection beside the active one), and its transitions
 * read best together. Everything separable lives in its own file: one connection
 * (connection.ts), the close-code policy (close-policy.ts), backoff, the ack queue
 * (ack-queue.ts), token renewal (token-keeper.ts), what it does with each frame received
 * (frame-intake.ts), duplicate suppression (delivered-ids.ts), engagement events (engagement.ts;
 * notification clicks: notification-opens.ts),
 * the message iterator (message-stream.ts), the events and states it reports (client-events.ts).
 */
import { CloseCode, type DeleteFrame, type ServerFrame, type UpdateFrame, type WelcomeFrame } from '@herald/types';
import { enableWebPush, type ServiceWorkerRegistrationLike, type WebPushRegistration } from './web-push';
import { AckQueue } from './ack-queue';
import { backoffDelay } from './backoff';
import { ABNORMAL_CLOSURE, closeAction, describeEnd, refusalAction, stoppedInfo, type CloseAction } from './close-policy';
import type { ClientState, ClientStats, HeraldClientEvents, StoppedInfo } from './client-events';
import { Connection, type ConnectionEnd } from './connection';
import { DeliveredIds } from './delivered-ids';
import { Emitter } from './emitter';
import { EventQueue } from './engagement';
import { HeraldClientError } from './errors';
import { FrameIntake } from './frame-intake';
import { MessageStream } from './message-stream';
import { pageServiceWorkers, relayNotificationOpens } from './notification-opens';
import { ReplaceKeys } from './replace-keys';
import { resolveOptions, type HeraldClientOptions, type ResolvedOptions } from './options';
import { TokenKeeper } from './token-keeper';

export type { ClientState, ClientStats, DisconnectInfo, HeraldClientEvents, StoppedInfo } from './client-events';

export class HeraldClient extends Emitter<HeraldClientEvents> {
  readonly options: ResolvedOptions;
  private stateValue: ClientState = 'idle';
  private readonly delivered: DeliveredIds;
  private readonly replaceKeys: ReplaceKeys;
  private readonly acks: AckQueue;
  private readonly events: EventQueue;
  private readonly intake: FrameIntake;
  private readonly streams = new Set<MessageStream>();
  private readonly statsValue: ClientStats = {
    sessions: 0,
    messages: 0,
    duplicates: 0,
    replaced: 0,
    idsAcked: 0,
    ackFrames: 0,
    eventsSent: 0,
    eventFrames: 0,
  };
  /** The connection messages and acks go through. */
  private active: Connection | null = null;
  /** A connection opened with a renewed token, promoted to `active` at its welcome. */
  private rotating: Connection | null = null;
  /** Connections being closed on purpose; their end is not a disconnect. */
  private readonly retiring = new Set<Connection>();
  private readonly tokens: TokenKeeper;
  private attempt = 0;
  private retryTimer?: ReturnType<typeof setTimeout>;
  private lastWelcome?: WelcomeFrame;
  private stopInfo?: StoppedInfo;
  private welcomeWaiters: { resolve: (w: WelcomeFrame) => void; reject: (e: unknown) => void }[] = [];
  private closing?: Promise<void>;
  private stopOpenRelay?: () => void;

  constructor(options: HeraldClientOptions) {
    super();
    this.options = resolveOptions(options);
    this.delivered = new DeliveredIds(this.options.dedupeCapacity);
    this.replaceKeys = new ReplaceKeys(this.options.dedupeCapacity);
    this.tokens = new TokenKeeper(this.options.token, this.options.refreshBeforeExpiryMs);
    this.acks = new AckQueue(
      {
        // Held while disconnected, bounded like the id memory; a forgotten one is resent by the
        // server and acknowledged again then.
        capacity: this.options.dedupeCapacity,
        intervalMs: this.options.ackIntervalMs,
        maxFrameBytes: this.options.maxFrameBytes,
        onSent: (ids, frames) => {
          this.statsValue.idsAcked += ids;
          this.statsValue.ackFrames += frames;
        },
      },
      () => this.active,
    );
    this.events = new EventQueue(
      {
        capacity: this.options.dedupeCapacity,
        intervalMs: this.options.ackIntervalMs,
        maxFrameBytes: this.options.maxFrameBytes,
        onSent: (events, frames) => {
          this.statsValue.eventsSent += events;
          this.statsValue.eventFrames += frames;
        },
      },
      () => this.active,
    );
    this.intake = new FrameIntake({
      delivered: this.delivered,
      replaceKeys: this.replaceKeys,
      acks: this.acks,
      events: this.events,
      stats: this.statsValue,
      autoAck: this.options.ack === 'auto',
      streams: this.streams,
      emit: (event, value) => this.emit(event, value),
      welcome: (connection, frame) => this.onWelcome(connection, frame),
      ack: (id) => this.ack(id),
    });
  }

  get state(): ClientState {
    return this.stateValue;
  }

  /** The welcome of the current (or last) connection. */
  get welcome(): WelcomeFrame | undefined {
    return this.lastWelcome;
  }

  get stats(): Readonly<ClientStats> {
    return { ...this.statsValue };
  }

  /**
   * Web Push for this user (browser only; web-push.ts, docs/WEBPUSH.md): subscribe the service
   * worker's registration with Herald's VAPID key and register it at the gateway with this
   * client's token. Call it at each app start: a renewed subscription is registered again.
   */
  enableWebPush(registration: ServiceWorkerRegistrationLike): Promise<WebPushRegistration> {
    // Notifications the user clicked become `opened` events (notification-opens.ts).
    const workers = pageServiceWorkers();
    if (workers && !this.stopOpenRelay && this.stateValue !== 'closed') {
      this.stopOpenRelay = relayNotificationOpens(workers, (id) => this.events.add(id, 'opened'));
    }
    return enableWebPush({ url: this.options.url, token: () => this.tokens.current() }, registration);
  }

  /** Ids waiting to be sent in an `ack` frame (held while disconnected). */
  get pendingAckCount(): number {
    return this.acks.size;
  }

  /** Engagement events (`message.opened()` …) waiting to be sent (held while disconnected). */
  get pendingEventCount(): number {
    return this.events.size;
  }

  /**
   * Start (if not started) and resolve with the next welcome, or the current one when open.
   * Rejects when the client stops first. The client keeps retrying in between, so with the server
   * down this waits; add your own deadline if you need one.
   */
  connect(): Promise<WelcomeFrame> {
    if (this.stateValue === 'closed') return Promise.reject(this.stopInfo?.error ?? new HeraldClientError('CLOSED'));
    if (this.stateValue === 'open' && this.lastWelcome) return Promise.resolve(this.lastWelcome);
    const welcome = new Promise<WelcomeFrame>((resolve, reject) => this.welcomeWaiters.push({ resolve, reject }));
    if (this.stateValue === 'idle') {
      this.setState('connecting');
      void this.dial('primary');
    }
    return welcome;
  }

  /**
   * An async iterator over messages delivered from now on (each id once). Starts the client if it
   * is idle. It ends when the client is closed and throws the error that stopped it otherwise.
   * Create it before `connect()` resolves, or offline messages may pass before it exists.
   */
  messages(): MessageStream {
    const stream = new MessageStream((s) => this.streams.delete(s));
    if (this.stateValue === 'closed') stream.end(this.stopInfo?.error);
    else {
      this.streams.add(stream);
      if (this.stateValue === 'idle') this.connect().catch(() => undefined);
    }
    return stream;
  }

  /** `on('update', fn)`: a message handed over before has a new payload. Returns the function that removes the listener. */
  onUpdate(fn: (frame: UpdateFrame) => void): () => void {
    return this.on('update', fn);
  }

  /** `on('delete', fn)`: a message handed over before was recalled. Returns the function that removes the listener. */
  onDelete(fn: (frame: DeleteFrame) => void): () => void {
    return this.on('delete', fn);
  }

  /**
   * Acknowledge messages: the gateway removes them from the user's offline list. Batched; held
   * while disconnected and sent after the next welcome. With `ack: 'auto'` the client does this.
   */
  ack(ids: string | readonly string[]): void {
    const list = typeof ids === 'string' ? [ids] : ids;
    for (const id of list) {
      if (typeof id !== 'string' || id === '') {
        throw new HeraldClientError('INVALID_OPTION', 'ack() takes message ids (non-empty strings)');
      }
    }
    if (this.stateValue === 'closed') return;
    for (const id of list) {
      this.delivered.markAcked(id);
      this.acks.add(id);
    }
  }

  /**
   * Close for good: pending acknowledgements are sent, the connection is closed with 1000,
   * iterators end. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.stateValue === 'closed') return;
      this.acks.flush();
      this.events.flush();
      const connections = [this.active, this.rotating].filter((c): c is Connection => c !== null);
      for (const c of connections) this.retiring.add(c);
      this.finish({ code: CloseCode.NORMAL, reason: 'closed by the app' });
      await Promise.all(connections.map((c) => c.close(CloseCode.NORMAL, 'client closed')));
    })();
    return this.closing;
  }

  private setState(state: ClientState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    this.emit('state', state);
  }

  /** Open a connection: the main one, or one that replaces it with a renewed token. */
  private async dial(kind: 'primary' | 'rotation'): Promise<void> {
    const previousExpiry = this.tokens.expiresAt;
    let token: string;
    try {
      token = await this.tokens.current();
    } catch (err) {
      this.emit('error', new Error(`the token provider failed: ${err instanceof Error ? err.message : String(err)}`));
      if (kind === 'primary' && this.stateValue !== 'closed') {
        this.retry({ code: ABNORMAL_CLOSURE, reason: 'no token', opened: false, welcomed: false, revealsRefusals: true });
      }
      return;
    }
    if (this.stateValue === 'closed') return;
    if (kind === 'rotation') {
      if (this.rotating || !this.active?.welcomed) return;
      // A provider that hands back a token expiring no later would make us rotate ever faster; the
      // gateway's 4001 at expiry is the fallback.
      const expiresAt = this.tokens.expiresAt;
      if (expiresAt === undefined || (previousExpiry !== undefined && expiresAt <= previousExpiry)) {
        this.emit('error', new Error('the token provider returned a token that expires no later than the current one'));
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
          onFrame: (c, frame) => this.onFrame(c, frame),
          onBadFrame: (_c, error) => this.emit('error', error),
          onEnd: (c, end) => this.onEnd(c, end),
        },
      );
    } catch (err) {
      // The implementation refused to even try (ws:// from an https:// page, a blocked port).
      const why = err instanceof Error ? err.message : String(err);
      this.finish({
        code: ABNORMAL_CLOSURE,
        reason: 'the WebSocket could not be created',
        error: new HeraldClientError('CONNECT_FAILED', `The WebSocket could not be created: ${why}`),
      });
      return;
    }
    if (kind === 'rotation') this.rotating = connection;
    else this.active = connection;
  }

  private onFrame(connection: Connection, frame: ServerFrame): void {
    if (this.stateValue !== 'closed') this.intake.onFrame(connection, frame);
  }

  private onWelcome(connection: Connection, welcome: WelcomeFrame): void {
    if (connection === this.rotating) {
      // Make before break: the new connection is live; the old one goes quietly. Messages it was
      // still sending come again on the new one and are suppressed as duplicates.
      const old = this.active;
      this.active = connection;
      this.rotating = null;
      if (old) {
        this.retiring.add(old);
        void old.close(CloseCode.NORMAL, 'token renewed');
      }
    }
    this.attempt = 0;
    this.statsValue.sessions++;
    this.lastWelcome = welcome;
    this.setState('open');
    this.emit('welcome', welcome);
    const waiters = this.welcomeWaiters;
    this.welcomeWaiters = [];
    for (const w of waiters) w.resolve(welcome);
    this.acks.flush();
    this.events.flush();
    this.scheduleRenewal();
  }

  /** Rotate to a connection with a renewed token before the current one expires. */
  private scheduleRenewal(): void {
    this.tokens.scheduleRenewal(() => {
      if (this.stateValue === 'open') void this.dial('rotation');
    });
  }

  private onEnd(connection: Connection, end: ConnectionEnd): void {
    if (this.retiring.delete(connection) || this.stateValue === 'closed') return;
    if (connection === this.rotating) {
      // The renewed connection failed; the current one carries on until its token expires (4001).
      this.rotating = null;
      this.emit('error', new Error(`a connection with a renewed token failed (${end.code} ${end.reason})`));
      return;
    }
    if (connection !== this.active) return;
    this.active = null;
    this.tokens.cancelRenewal();
    this.acks.cancel();
    this.events.cancel();
    if (this.rotating) {
      // A renewed connection is already on its way: it takes over.
      this.active = this.rotating;
      this.rotating = null;
      this.setState('connecting');
      this.emit('disconnect', { ...describeEnd(end), action: 'reconnect', reconnectInMs: 0 });
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
      this.emit('disconnect', { ...describeEnd(end), action: 'stop', reconnectInMs: null });
      return this.stop(end, action === 'stop');
    }
    let delay: number;
    if (action === 'restart') {
      this.attempt = 0;
      delay = Math.floor(this.options.random() * reconnect.restartJitterMs);
    } else {
      if (action === 'refresh') this.tokens.invalidate();
      delay = backoffDelay(this.attempt++, reconnect, this.options.random);
    }
    this.setState('reconnecting');
    this.emit('disconnect', { ...describeEnd(end), action, reconnectInMs: delay });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.stateValue !== 'reconnecting') return;
      this.setState('connecting');
      void this.dial('primary');
    }, delay);
  }

  /** @param terminal whether the end itself was terminal (else: reconnecting is turned off) */
  private stop(end: ConnectionEnd, terminal: boolean): void {
    this.finish(stoppedInfo(end, terminal));
  }

  /** Enter `closed` for good: timers off, iterators ended, waiters answered, `stopped` emitted. */
  private finish(info: StoppedInfo): void {
    if (this.stateValue === 'closed') return;
    this.stopInfo = info;
    clearTimeout(this.retryTimer);
    this.tokens.cancelRenewal();
    this.acks.cancel();
    this.events.cancel();
    this.stopOpenRelay?.();
    const connections = [this.active, this.rotating];
    this.active = null;
    this.rotating = null;
    // Closed first: the ends these drops report are then ignored, not retried.
    this.setState('closed');
    for (const c of connections) {
      if (c && !this.retiring.has(c)) c.drop('client stopped');
    }
    for (const stream of [...this.streams]) stream.end(info.error);
    const waiters = this.welcomeWaiters;
    this.welcomeWaiters = [];
    for (const w of waiters) w.reject(info.error ?? new HeraldClientError('CLOSED'));
    this.emit('stopped', info);
  }
}
