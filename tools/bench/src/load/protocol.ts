/**
 * What the bench and a load-client process (load-client-main.ts) say to each other over the
 * child's IPC channel. Every request carries an `id` and gets exactly one reply with that id.
 * Plain JSON only: this file is imported on both sides and holds no code.
 */

/** The connections one child opens, as tables and indexes to keep the IPC message small. */
export interface OpenRequest {
  type: 'open';
  id: number;
  /** ws://host:port/ws of each gateway. */
  urls: string[];
  /** Loopback source addresses (127.0.0.2, …) the sockets bind to. */
  addresses: string[];
  /** One per connection: [index into urls, index into addresses, bearer token]. */
  connections: Array<[number, number, string]>;
  /** Ack every message id received (one ack frame per connection and event-loop turn). */
  ack: boolean;
  /** Handshakes in flight at most in this child. */
  concurrency: number;
}

export interface StatsRequest {
  type: 'stats';
  id: number;
  /** Count the connections that received at least this many message frames. */
  atLeast: number;
}

/** Close every socket at once (no close handshake) and answer; the child then waits to be killed. */
export interface CloseRequest {
  type: 'close';
  id: number;
}

export type Request = OpenRequest | StatsRequest | CloseRequest;

/** Epoch milliseconds with a fraction (performance.timeOrigin + performance.now()). */
export type EpochMs = number;

export interface LoadStats {
  /** Connections this child was asked to open. */
  assigned: number;
  /** Sockets open now. */
  open: number;
  /** Connections that got their `welcome` frame. */
  welcomed: number;
  /** Message frames received, all connections. */
  messages: number;
  /** Connections with at least `atLeast` message frames (see StatsRequest). */
  withAtLeast: number;
  /** Message ids sent back in ack frames, and the frames that carried them. */
  ackedIds: number;
  ackFrames: number;
  /** Upgrades refused with 503 (the gateway's door: accept rate or per-address limit), each retried. */
  refused: number;
  /** Other failed attempts (socket errors, timeouts), each retried up to a bound. */
  retried: number;
  /** Connections given up on. */
  failed: number;
  /** Sockets closed after they had opened, by close code. */
  closedByCode: Record<string, number>;
  /** Frames that were neither `welcome` nor `message` (an `error` frame, say). */
  unexpected: number;
  firstAttemptAt: EpochMs | null;
  lastOpenAt: EpochMs | null;
  lastWelcomeAt: EpochMs | null;
  lastMessageAt: EpochMs | null;
  /** User + system CPU seconds of this child since it started. */
  cpuSeconds: number;
  rssBytes: number;
  /** The last error seen, to explain a failure. */
  lastError: string | null;
}

export type Reply =
  | { type: 'opened'; id: number }
  | { type: 'stats'; id: number; stats: LoadStats }
  | { type: 'closed'; id: number }
  | { type: 'failed'; id: number; message: string };

/** Sent once by the child when it listens for requests. */
export interface Ready {
  type: 'ready';
}
