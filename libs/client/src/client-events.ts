/**
 * What a HeraldClient tells the app: its states, the events it emits and their payloads, its
 * counters. Types only; the state machine that produces them is herald-client.ts.
 */
import type { DeleteFrame, ErrorFrame, MessageFrame, UpdateFrame, WelcomeFrame } from '@herald/types';
import type { CloseAction } from './close-policy';
import type { DeliveredMessage } from './engagement';
import type { HeraldClientError } from './errors';

/**
 * - `idle`: created, not started (`connect()` or `messages()` starts it).
 * - `connecting`: a connection is being opened (no welcome yet).
 * - `open`: welcomed; messages flow.
 * - `reconnecting`: waiting out a backoff delay before the next attempt.
 * - `closed`: stopped for good (by `close()` or a terminal code); make a new client to start again.
 */
export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface DisconnectInfo {
  code: number;
  reason: string;
  /** HTTP status of a refused upgrade, where the WebSocket implementation shows it. */
  refusedStatus?: number;
  /** What the client does about it. */
  action: CloseAction;
  /** Delay before the next attempt; null when the client stops. */
  reconnectInMs: number | null;
}

export interface StoppedInfo {
  code: number;
  reason: string;
  /** Absent when the app closed the client. */
  error?: HeraldClientError;
}

export interface HeraldClientEvents {
  /** Each connection's first frame: the session id and the user's categories. */
  welcome: WelcomeFrame;
  /**
   * A message, once per id (duplicates are suppressed). `replaces`: the id of an earlier message
   * with the same replace key that this one takes the place of (show this one instead); the
   * client has acknowledged that one.
   */
  message: DeliveredMessage;
  /** A message id seen again (a resend after a reconnect); not handed over as a message. */
  duplicate: MessageFrame;
  /**
   * A message handed over before was updated by its producer: show `payload` instead. Also
   * emitted when a resend of a handed-over message carries an `updatedAt` (it was updated while
   * this client was away), so the same update may come twice.
   */
  update: UpdateFrame;
  /** A message handed over before was recalled by its producer: stop showing it (it is acknowledged for you). */
  delete: DeleteFrame;
  /** The gateway's `error` frame about something this client sent. */
  serverError: ErrorFrame;
  state: ClientState;
  /** A connection ended; `reconnectInMs` says when the next attempt starts. */
  disconnect: DisconnectInfo;
  /** The client stopped for good. */
  stopped: StoppedInfo;
  /** A problem that does not stop the client: a failing token provider, an unreadable frame. */
  error: Error;
}

export interface ClientStats {
  /** Connections that reached `welcome`. */
  sessions: number;
  /** Messages handed to the app. */
  messages: number;
  /** Messages suppressed because their id was already handed over. */
  duplicates: number;
  /** Messages that took the place of an earlier one with the same replace key (`replaces`). */
  replaced: number;
  /** Ids sent in `ack` frames (an id sent twice counts twice). */
  idsAcked: number;
  /** `ack` frames sent. */
  ackFrames: number;
  /** Engagement events sent (`message.opened()` …, each (message, kind) once). */
  eventsSent: number;
  /** `event` frames sent. */
  eventFrames: number;
}
