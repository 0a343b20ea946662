/**
 * HeraldClient's options: typed, defaulted and checked once, in the constructor, with an error
 * that names the option that is wrong.
 */
import type { BackoffOptions } from './backoff';
import { HeraldClientError } from './errors';
import type { TokenSource } from './token';
import { globalWebSocket, type WebSocketConstructor } from './websocket';

export interface ReconnectOptions extends BackoffOptions {
  /**
   * After 1012 (server restarting) the client reconnects after a pause uniform in [0, this), with
   * the backoff reset: another replica is expected to take it at once. @default 3000
   */
  restartJitterMs: number;
}

export interface HeraldClientOptions {
  /** The gateway's WebSocket URL, e.g. `wss://push.example.com/ws`. */
  url: string;
  /**
   * A token, or a function that returns one (sync or async). A function is called for the first
   * connect, again after the gateway refuses or expires the token (4001), and shortly before the
   * token's `exp`; a fixed string cannot be renewed, so 4001 stops the client.
   */
  token: TokenSource;
  /**
   * The WebSocket implementation. @default the global `WebSocket` (browsers, Node 22+). In Node 20
   * pass the `ws` package's `WebSocket`; it also lets the client see server pings (see `heartbeatIntervalMs`).
   */
  WebSocket?: WebSocketConstructor;
  /**
   * `auto`: each message is acknowledged once it has been handed to the listeners and iterators.
   * `manual`: nothing is acknowledged until `client.ack(id)`; unacknowledged messages come again on
   * the next connection (and are then suppressed as duplicates, not handed over twice). @default 'auto'
   */
  ack?: 'auto' | 'manual';
  /** `false`: never reconnect (the first disconnect stops the client). @default backoff 500 ms .. 30 s */
  reconnect?: false | Partial<ReconnectOptions>;
  /**
   * The gateway's ping interval (its HEARTBEAT_INTERVAL_MS). Where the WebSocket implementation
   * shows pings (`ws`), a connection that sees neither a ping nor a frame for twice this plus a
   * second is treated as dead and replaced. Browsers hide pings, so there the client relies on the
   * browser and the server's heartbeat (docs/CLIENT.md). 0 turns detection off. @default 30000
   */
  heartbeatIntervalMs?: number;
  /** A connection without a `welcome` frame this long after it was started is dropped and retried. @default 15000 */
  connectTimeoutMs?: number;
  /**
   * With a token provider: fetch a new token this long before the current one's `exp` (at most
   * halfway through what is left) and switch to a new connection before the old one expires.
   * `false` waits for the gateway's 4001 instead. @default 30000
   */
  refreshBeforeExpiryMs?: number | false;
  /** Message ids remembered to suppress duplicates (across reconnects). @default 10000 */
  dedupeCapacity?: number;
  /** Acknowledgements are batched and sent at most this often. @default 100 */
  ackIntervalMs?: number;
  /** Largest frame the client sends; match the gateway's WS_MAX_PAYLOAD_BYTES. @default 16384 */
  maxFrameBytes?: number;
  /** Source of randomness for the jitter, in [0, 1). @default Math.random */
  random?: () => number;
}

export interface ResolvedOptions {
  readonly url: string;
  readonly token: TokenSource;
  readonly WebSocket: WebSocketConstructor;
  readonly ack: 'auto' | 'manual';
  readonly reconnect: false | Readonly<ReconnectOptions>;
  readonly heartbeatIntervalMs: number;
  readonly connectTimeoutMs: number;
  readonly refreshBeforeExpiryMs: number | false;
  readonly dedupeCapacity: number;
  readonly ackIntervalMs: number;
  readonly maxFrameBytes: number;
  readonly random: () => number;
}

export const DEFAULT_RECONNECT: Readonly<ReconnectOptions> = Object.freeze({
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  restartJitterMs: 3000,
});

function invalid(name: string, problem: string): HeraldClientError {
  return new HeraldClientError('INVALID_OPTION', `HeraldClient option "${name}" ${problem}`);
}

function wholeNumber(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) throw invalid(name, `must be a whole number of at least ${min}, got ${String(value)}`);
  return value;
}

export function resolveOptions(opts: HeraldClientOptions): ResolvedOptions {
  if (!opts || typeof opts !== 'object') throw invalid('options', 'must be an object');
  let url: URL;
  try {
    url = new URL(opts.url);
  } catch {
    throw invalid('url', `must be a ws:// or wss:// URL, got ${JSON.stringify(opts.url)}`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw invalid('url', `must be a ws:// or wss:// URL, got ${JSON.stringify(opts.url)}`);
  }
  if (typeof opts.token === 'string' ? opts.token === '' : typeof opts.token !== 'function') {
    throw invalid('token', 'must be a non-empty string or a function that returns one');
  }
  const WebSocket = opts.WebSocket ?? globalWebSocket();
  if (!WebSocket) throw new HeraldClientError('NO_WEBSOCKET');
  if (typeof WebSocket !== 'function') throw invalid('WebSocket', 'must be a WebSocket constructor');
  const ack = opts.ack ?? 'auto';
  if (ack !== 'auto' && ack !== 'manual') throw invalid('ack', `must be "auto" or "manual", got ${JSON.stringify(ack)}`);
  let reconnect: ResolvedOptions['reconnect'] = false;
  if (opts.reconnect !== false) {
    const r = opts.reconnect ?? {};
    reconnect = Object.freeze({
      initialDelayMs: wholeNumber('reconnect.initialDelayMs', r.initialDelayMs, DEFAULT_RECONNECT.initialDelayMs, 1),
      maxDelayMs: wholeNumber('reconnect.maxDelayMs', r.maxDelayMs, DEFAULT_RECONNECT.maxDelayMs, 1),
      restartJitterMs: wholeNumber('reconnect.restartJitterMs', r.restartJitterMs, DEFAULT_RECONNECT.restartJitterMs, 1),
    });
    if (reconnect.maxDelayMs < reconnect.initialDelayMs) throw invalid('reconnect.maxDelayMs', 'must not be below initialDelayMs');
  }
  const refresh = opts.refreshBeforeExpiryMs;
  if (refresh !== undefined && refresh !== false && (!Number.isInteger(refresh) || refresh < 0)) {
    throw invalid('refreshBeforeExpiryMs', `must be false or a whole number of at least 0, got ${String(refresh)}`);
  }
  if (opts.random !== undefined && typeof opts.random !== 'function') throw invalid('random', 'must be a function');
  return Object.freeze({
    url: opts.url,
    token: opts.token,
    WebSocket,
    ack,
    reconnect,
    heartbeatIntervalMs: wholeNumber('heartbeatIntervalMs', opts.heartbeatIntervalMs, 30_000, 0),
    connectTimeoutMs: wholeNumber('connectTimeoutMs', opts.connectTimeoutMs, 15_000, 1),
    refreshBeforeExpiryMs: refresh ?? 30_000,
    dedupeCapacity: wholeNumber('dedupeCapacity', opts.dedupeCapacity, 10_000, 1),
    ackIntervalMs: wholeNumber('ackIntervalMs', opts.ackIntervalMs, 100, 0),
    // The smallest frame that can carry one UUID acknowledgement.
    maxFrameBytes: wholeNumber('maxFrameBytes', opts.maxFrameBytes, 16 * 1024, 64),
    random: opts.random ?? Math.random,
  });
}
