/**
 * One client connection: its socket, its state, its acks. A session starts DRAINING (live
 * messages wait in `pending` so they follow the offline ones), becomes OPEN, and ends CLOSED;
 * closing twice is a no-op. Shared collaborators live in one `SessionContext` per gateway, so a
 * session holds only its own state.
 */
import { randomUUID } from 'node:crypto';
import type { WebSocket, RawData } from 'ws';
import { CloseCode, closeReason, ErrorCodes, type ErrorCode, type ExposureEvent, type ServerFrame } from '@herald/types';
import type { EncodedMessage } from '@herald/redis';
import type { ExposurePublisher } from './exposure-publisher';
import type { GatewayMetrics } from './metrics';

export const SessionState = { DRAINING: 0, OPEN: 1, CLOSED: 2 } as const;
type SessionState = (typeof SessionState)[keyof typeof SessionState];

/** Most ids one ack frame may carry. */
export const MAX_ACK_IDS = 1000;
const MAX_ID_LENGTH = 128;
/** ws's readyState OPEN. */
const OPEN = 1;
/** `message` frames are bytes already (EncodedMessage.frame); they go out as text frames. */
const TEXT_FRAME = { binary: false } as const;
/** How long a slow consumer's socket may linger after its 4009 before it is cut off. */
const SLOW_CLOSE_GRACE_MS = 1000;

export interface SessionContext {
  publisher: ExposurePublisher;
  metrics: GatewayMetrics;
  sendBufferMaxBytes: number;
  /** Error frames before the session is closed with 4008. */
  maxFrameErrors: number;
  /** Frames per second (counted by the gateway's sweep) before the session is closed with 4008. */
  maxFramesPerSecond: number;
  onAck(session: Session, ids: string[]): void;
}

export class Session {
  readonly id = randomUUID();
  state: SessionState = SessionState.DRAINING;
  /** Cleared by each heartbeat round, set again by the pong. */
  isAlive = true;
  /** Frames received in the current second; reset by the gateway's sweep. */
  framesThisSecond = 0;
  private frameErrors = 0;
  /** Set when a live notification set this session's categories (see Hub.setUserCategories). */
  categoriesNoted = false;
  /** Live messages that arrived while draining. */
  private pending: EncodedMessage[] | null = [];
  /** This session's fixed members of its exposure events (ExposurePublisher.sessionPart). */
  private readonly exposurePart: string;

  constructor(
    readonly userId: string,
    readonly ws: WebSocket,
    /** Token expiry, epoch ms (Infinity when the token has none). */
    readonly expiresAt: number,
    private readonly ctx: SessionContext,
  ) {
    this.exposurePart = ctx.publisher.sessionPart(userId, this.id);
  }

  get closed(): boolean {
    return this.state === SessionState.CLOSED;
  }

  sendFrame(frame: ServerFrame): void {
    if (this.state === SessionState.CLOSED) return;
    this.ws.send(JSON.stringify(frame));
  }

  /** Answer a bad frame with an `error` frame; a client that keeps sending them is closed (4008). */
  sendError(code: ErrorCode, message: string = ErrorCodes[code].message): void {
    this.ctx.metrics.frameErrors.inc({ code });
    if (++this.frameErrors > this.ctx.maxFrameErrors) return this.close(CloseCode.POLICY);
    this.sendFrame({ type: 'error', code, message });
  }

  /**
   * Push one message (frame serialized once, by ingest) and record its exposure. Returns false
   * when the session is closed or the message has expired. `written` is called once the frame
   * has been handed to the OS (or the socket failed).
   */
  push(message: EncodedMessage, via: ExposureEvent['via'], now = Date.now(), written?: (err?: Error) => void): boolean {
    if (this.state === SessionState.CLOSED || message.expiresAt <= now) {
      written?.();
      return false;
    }
    // The frame goes out once its exposure event is in the write-ahead log (this turn's batch).
    this.ctx.publisher.record(message.id, message.category, this.exposurePart, via, () => this.write(message, via, written));
    return true;
  }

  /** Write a logged push to the socket; false (and no exposure) when the socket has gone meanwhile. */
  private write(message: EncodedMessage, via: ExposureEvent['via'], written?: (err?: Error) => void): boolean {
    if (this.state === SessionState.CLOSED || this.ws.readyState !== OPEN) {
      written?.();
      return false;
    }
    this.ws.send(message.frame, TEXT_FRAME, written);
    this.ctx.metrics.pushed.inc({ via });
    if (this.ws.bufferedAmount > this.ctx.sendBufferMaxBytes) this.closeSlow();
    return true;
  }

  /** A live message: pushed now, or after the drain when one is running. */
  deliverLive(message: EncodedMessage): void {
    if (this.pending) this.pending.push(message);
    else this.push(message, 'live');
  }

  /**
   * The drain is over: push the live messages that waited, except those the drain already
   * pushed (they were in the inbox snapshot), in arrival order, which is ingest order.
   */
  endDrain(drained: ReadonlySet<string>): void {
    const pending = this.pending ?? [];
    this.pending = null;
    if (this.state === SessionState.CLOSED) return;
    this.state = SessionState.OPEN;
    for (const message of pending) if (!drained.has(message.id)) this.push(message, 'live');
  }

  /** Handle one client frame: only `{"type":"ack","ids":[…]}` is accepted. */
  onFrame(data: RawData, isBinary: boolean): void {
    if (this.state === SessionState.CLOSED) return;
    if (++this.framesThisSecond > this.ctx.maxFramesPerSecond) return this.close(CloseCode.POLICY);
    if (isBinary) return this.sendError('INVALID_FRAME', 'Frames must be text.');
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      return this.sendError('INVALID_JSON');
    }
    if (typeof frame !== 'object' || frame === null || (frame as { type?: unknown }).type !== 'ack') {
      return this.sendError('UNKNOWN_FRAME');
    }
    const ids = (frame as { ids?: unknown }).ids;
    if (
      !Array.isArray(ids) ||
      ids.length === 0 ||
      ids.length > MAX_ACK_IDS ||
      !ids.every((id) => typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH)
    ) {
      return this.sendError('INVALID_FRAME', `ack needs "ids": 1 to ${MAX_ACK_IDS} non-empty strings.`);
    }
    this.ctx.onAck(this, ids as string[]);
  }

  /**
   * The client does not read: what is queued for it stays in memory until the socket goes, and a
   * close frame would wait behind it. Say 4009 and cut the socket off shortly after.
   */
  private closeSlow(): void {
    this.close(CloseCode.SLOW_CONSUMER);
    setTimeout(() => this.ws.terminate(), SLOW_CLOSE_GRACE_MS).unref();
  }

  close(code: CloseCode): void {
    if (this.state === SessionState.CLOSED) return;
    this.state = SessionState.CLOSED;
    this.pending = null;
    this.ctx.metrics.closes.inc({ code: String(code) });
    this.ws.close(code, closeReason[code]);
  }

  /** The socket is gone (closed by either side). */
  markClosed(): void {
    this.state = SessionState.CLOSED;
    this.pending = null;
  }
}
