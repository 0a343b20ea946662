/**
 * One WebSocket to the gateway: opens it with the token, parses frames, watches for a welcome in
 * time and (where pings are visible) for the server's heartbeat, and reports its end exactly once.
 * It decides nothing about reconnecting; the client does.
 */
import { ClientCloseCode, type ServerFrame } from '@herald/types';
import { ABNORMAL_CLOSURE } from './close-policy';
import {
  dropSocket,
  onPing,
  ReadyState,
  refusalStatus,
  type CloseEventLike,
  type ErrorEventLike,
  type MessageEventLike,
  type WebSocketConstructor,
  type WebSocketLike,
} from './websocket';

/** How a connection ended. */
export interface ConnectionEnd {
  /** The close code; 1006 when the connection failed or the client dropped it as dead. */
  code: number;
  reason: string;
  /** HTTP status of a refused upgrade, where the WebSocket implementation shows it. */
  refusedStatus?: number;
  /** Whether the socket ever opened. */
  opened: boolean;
  /** Whether the `welcome` frame arrived. */
  welcomed: boolean;
  /** Whether the implementation would have shown a refused upgrade's status (`ws` does, browsers never). */
  revealsRefusals: boolean;
}

export interface ConnectionHandlers {
  onFrame(connection: Connection, frame: ServerFrame): void;
  /** A text frame that is not a server frame (a protocol mismatch; the frame is skipped). */
  onBadFrame(connection: Connection, error: Error): void;
  onEnd(connection: Connection, end: ConnectionEnd): void;
}

export interface ConnectionOptions {
  WebSocket: WebSocketConstructor;
  url: string;
  token: string;
  connectTimeoutMs: number;
  /** The server's ping interval; 0 turns dead-connection detection off. */
  heartbeatIntervalMs: number;
}

/** Slack on top of two heartbeat intervals before silence counts as death (timers, GC pauses). */
export const HEARTBEAT_GRACE_MS = 1000;
/** How long a graceful close may wait for the server's close frame before the socket is dropped. */
export const CLOSE_TIMEOUT_MS = 2000;
/** Private-use close code the client sends when it drops a connection it considers dead. */
export const CLIENT_DROP_CODE = ClientCloseCode.DROPPED;

const noop = () => undefined;

/** `ws://host/ws` + `access_token`: the one way that works from browsers (they cannot set headers). */
export function connectUrl(base: string, token: string): string {
  const url = new URL(base);
  url.searchParams.set('access_token', token);
  return url.toString();
}

export class Connection {
  private readonly ws: WebSocketLike;
  private opened = false;
  private welcomedFlag = false;
  private ended = false;
  private refused?: number;
  private lastSeen = Date.now();
  private connectTimer?: ReturnType<typeof setTimeout>;
  private heartbeatTimer?: ReturnType<typeof setTimeout>;
  private closeTimer?: ReturnType<typeof setTimeout>;
  private closed?: Promise<void>;
  private resolveClosed?: () => void;
  /** Whether this implementation shows server pings (and so whether silence means anything). */
  readonly seesPings: boolean;
  /** Whether this implementation reports the HTTP status of a refused upgrade. */
  readonly revealsRefusals: boolean;

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly handlers: ConnectionHandlers,
  ) {
    this.ws = new opts.WebSocket(connectUrl(opts.url, opts.token));
    this.seesPings = onPing(this.ws, () => (this.lastSeen = Date.now()));
    this.revealsRefusals = this.seesPings;
    this.ws.onopen = () => this.onOpen();
    this.ws.onmessage = (event: MessageEventLike) => this.onMessage(event.data);
    this.ws.onerror = (event: ErrorEventLike) => (this.refused ??= refusalStatus(event));
    this.ws.onclose = (event: CloseEventLike) => this.end({ code: event.code, reason: event.reason });
    this.connectTimer = setTimeout(
      () => this.drop(`no welcome within ${opts.connectTimeoutMs} ms`),
      opts.connectTimeoutMs,
    );
  }

  get welcomed(): boolean {
    return this.welcomedFlag;
  }

  /** Open and not closing: a frame sent now reaches the server unless the network fails. */
  get writable(): boolean {
    return !this.ended && this.ws.readyState === ReadyState.OPEN;
  }

  send(data: string): boolean {
    if (!this.writable) return false;
    this.ws.send(data);
    return true;
  }

  /** Close politely; resolves once the connection has ended (dropping it if the server does not answer in time). */
  close(code: number, reason: string): Promise<void> {
    if (this.ended) return Promise.resolve();
    this.closed ??= new Promise<void>((resolve) => {
      this.resolveClosed = resolve;
      this.closeTimer = setTimeout(() => this.drop('the server did not answer the close in time'), CLOSE_TIMEOUT_MS);
      this.ws.close(code, reason);
    });
    return this.closed;
  }

  /** Give up on the connection at once and report its end now (the socket may be half-dead). */
  drop(reason: string): void {
    if (this.ended) return;
    this.end({ code: ABNORMAL_CLOSURE, reason });
    dropSocket(this.ws, CLIENT_DROP_CODE, reason.slice(0, 120));
  }

  private onOpen(): void {
    this.opened = true;
    this.lastSeen = Date.now();
    if (this.seesPings && this.opts.heartbeatIntervalMs > 0) this.armHeartbeat(this.deadAfterMs());
  }

  private deadAfterMs(): number {
    return 2 * this.opts.heartbeatIntervalMs + HEARTBEAT_GRACE_MS;
  }

  /** One timer per connection, re-armed for the time left rather than reset on every frame. */
  private armHeartbeat(delayMs: number): void {
    this.heartbeatTimer = setTimeout(() => {
      const silentFor = Date.now() - this.lastSeen;
      const deadAfter = this.deadAfterMs();
      if (silentFor >= deadAfter) this.drop(`no heartbeat from the server for ${silentFor} ms`);
      else this.armHeartbeat(deadAfter - silentFor);
    }, delayMs);
  }

  private onMessage(data: unknown): void {
    if (this.ended) return;
    this.lastSeen = Date.now();
    if (typeof data !== 'string') {
      this.handlers.onBadFrame(this, new Error('the server sent a binary frame; Herald frames are JSON text'));
      return;
    }
    let frame: ServerFrame;
    try {
      frame = JSON.parse(data) as ServerFrame;
    } catch {
      this.handlers.onBadFrame(this, new Error(`the server sent a frame that is not JSON: ${data.slice(0, 80)}`));
      return;
    }
    if (!frame || typeof frame !== 'object' || typeof frame.type !== 'string') {
      this.handlers.onBadFrame(this, new Error(`the server sent a frame without a type: ${data.slice(0, 80)}`));
      return;
    }
    if (frame.type === 'welcome') {
      this.welcomedFlag = true;
      clearTimeout(this.connectTimer);
    }
    this.handlers.onFrame(this, frame);
  }

  private end(close: { code: number; reason: string }): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.connectTimer);
    clearTimeout(this.heartbeatTimer);
    clearTimeout(this.closeTimer);
    // No-ops rather than null: `ws` throws an 'error' event that has no listener.
    this.ws.onopen = noop;
    this.ws.onmessage = noop;
    this.ws.onerror = noop;
    this.ws.onclose = noop;
    this.resolveClosed?.();
    this.handlers.onEnd(this, {
      ...close,
      refusedStatus: this.opened ? undefined : this.refused,
      opened: this.opened,
      welcomed: this.welcomedFlag,
      revealsRefusals: this.revealsRefusals,
    });
  }
}
