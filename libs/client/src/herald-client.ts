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
 * It is one state machine (idle → connecting → open → reconnecting → closed); everything
 * separable lives in its own file: the connections over time, dialing, token rotation and the
 * decision to reconnect or stop (link.ts), one connection (connection.ts), the close-code policy
 * (close-policy.ts), backoff, the ack queue (ack-queue.ts), token renewal (token-keeper.ts), what
 * it does with each frame received (frame-intake.ts), duplicate suppression (delivered-ids.ts),
 * engagement events (engagement.ts; notification clicks: notification-opens.ts), the message
 * iterator (message-stream.ts), the events and states it reports (client-events.ts).
 */
import { CloseCode, type DeleteFrame, type ServerFrame, type UpdateFrame, type WelcomeFrame } from '@herald/types';
import { enableWebPush, type ServiceWorkerRegistrationLike, type WebPushRegistration } from './web-push';
import { AckQueue } from './ack-queue';
import type { ClientState, ClientStats, HeraldClientEvents, StoppedInfo } from './client-events';
import type { Connection } from './connection';
import { DeliveredIds } from './delivered-ids';
import { Emitter } from './emitter';
import { EventQueue } from './engagement';
import { HeraldClientError } from './errors';
import { FrameIntake } from './frame-intake';
import { Link } from './link';
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
  private readonly tokens: TokenKeeper;
  /** The connections: the one in use, a renewed one beside it, dialing and reconnecting (link.ts). */
  private readonly link: Link;
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
    this.link = new Link(this.options, this.tokens, {
      state: () => this.stateValue,
      setState: (state) => this.setState(state),
      onFrame: (connection, frame) => this.onFrame(connection, frame),
      error: (error) => this.emit('error', error),
      disconnect: (info) => this.emit('disconnect', info),
      lost: () => {
        this.acks.cancel();
        this.events.cancel();
      },
      finish: (info) => this.finish(info),
    });
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
      () => this.link.current,
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
      () => this.link.current,
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
      void this.link.dial('primary');
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
      const connections = this.link.retireAll();
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

  private onFrame(connection: Connection, frame: ServerFrame): void {
    if (this.stateValue !== 'closed') this.intake.onFrame(connection, frame);
  }

  private onWelcome(connection: Connection, welcome: WelcomeFrame): void {
    this.link.welcomed(connection);
    this.statsValue.sessions++;
    this.lastWelcome = welcome;
    this.setState('open');
    this.emit('welcome', welcome);
    const waiters = this.welcomeWaiters;
    this.welcomeWaiters = [];
    for (const w of waiters) w.resolve(welcome);
    this.acks.flush();
    this.events.flush();
  }

  /** Enter `closed` for good: timers off, iterators ended, waiters answered, `stopped` emitted. */
  private finish(info: StoppedInfo): void {
    if (this.stateValue === 'closed') return;
    this.stopInfo = info;
    const connections = this.link.detach();
    this.acks.cancel();
    this.events.cancel();
    this.stopOpenRelay?.();
    // Closed first: the ends these drops report are then ignored, not retried.
    this.setState('closed');
    for (const c of connections) c.drop('client stopped');
    for (const stream of [...this.streams]) stream.end(info.error);
    const waiters = this.welcomeWaiters;
    this.welcomeWaiters = [];
    for (const w of waiters) w.reject(info.error ?? new HeraldClientError('CLOSED'));
    this.emit('stopped', info);
  }
}
