/**
 * One client connection: its socket, its state, its acks. A session starts DRAINING (live
 * messages wait in `pending` so they follow the offline ones), becomes OPEN, is CLOSING once the
 * server has closed it (nothing more is pushed, but acks for what the client got still count
 * until the socket is gone), and ends CLOSED; closing twice is a no-op. Shared collaborators live
 * in one `SessionContext` per gateway (session-context.ts), so a session holds only its own
 * state; what its client may send is counted by its `FrameBudget` (frame-budget.ts) and applied by
 * client-intake.ts.
 */
import { randomUUID } from 'node:crypto';
import type { WebSocket, RawData } from 'ws';
import { CloseCode, closeReason, ErrorCodes, type ErrorCode, type ExposureEvent, type ServerFrame } from '@herald/types';
import type { EncodedMessage } from '@herald/redis';
import { AckTracker } from '../acks/ack-tracker';
import type { PositionMoves } from '../acks/ack-batcher';
import { receiveFrame } from '../frames/client-intake';
import { PendingQueue, type Outgoing } from '../delivery/pending-queue';
import { LoggedPushes } from '../delivery/logged-pushes';
import { pushEntry } from '../delivery/entry-push';
import { CategoryCursors } from '../acks/category-cursors';
import { FrameBudget } from '../frames/frame-budget';
import { RecentIds } from '../delivery/recent-ids';
import type { SessionContext } from './session-context';
import { Liveness } from './liveness';
import { sendText } from '../frames/ws-frame';
import { beforeFrame, holding } from '../frames/write-burst';

export const SessionState = { DRAINING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;
type SessionState = (typeof SessionState)[keyof typeof SessionState];

/** ws's readyState OPEN. */
const OPEN = 1;
/** How long a slow consumer's socket may linger after its 4009 before it is cut off. */
const SLOW_CLOSE_GRACE_MS = 1000;

export class Session {
  readonly id = randomUUID();
  /** When the gateway registered the session, epoch ms (presence's `connectedAt`). */
  readonly connectedAt = Date.now();
  private current: SessionState = SessionState.DRAINING;
  /** Heartbeat (heartbeat()): pings and their answers, frames both ways since the last round. */
  private readonly liveness = new Liveness();
  /** What the client may still send (reset each second by the hub's sweep: resetFrameBudget). */
  readonly budget: FrameBudget;
  /** Set when a live notification set this session's categories (see Hub.setUserCategories). */
  private noted = false;
  /** Live messages that arrived while draining, oldest first; null once the drain is over. */
  private pending: PendingQueue | null = new PendingQueue();
  /** What this session may be acknowledged for. */
  readonly acks: AckTracker;
  /** This session's fixed members of its exposure events (ExposurePublisher.sessionPart). */
  private readonly exposurePart: Buffer;
  /** Where the session stands in its categories' logs; made at the first category entry. */
  private cursors?: CategoryCursors;
  /** The last ids written to the socket (WS_RECENT_IDS). */
  private readonly recent: RecentIds;
  /** The write burst of the last frame pushed (write-burst.ts). */
  private burst = 0;
  /** Pushes waiting for their exposures' log write, oldest first (logged-pushes.ts). */
  private readonly logged = new LoggedPushes();
  /** Its category positions waiting for the ack batcher's next write (ack-batcher.ts keeps it). */
  positionMoves?: PositionMoves;

  constructor(
    readonly userId: string,
    readonly ws: WebSocket,
    /** Token expiry, epoch ms (Infinity when the token has none). */
    private readonly expiresAt: number,
    readonly ctx: SessionContext,
  ) {
    this.exposurePart = ctx.publisher.sessionPart(userId, this.id);
    this.acks = new AckTracker(ctx.maxUnackedIds);
    this.budget = new FrameBudget(ctx);
    this.recent = new RecentIds(ctx.recentIds);
  }

  get state(): SessionState {
    return this.current;
  }

  /** True once the server closed the session or the socket went: nothing more is pushed. */
  get closed(): boolean {
    return this.current >= SessionState.CLOSING;
  }

  /** True once the socket is gone (closed by either side, or cut off). */
  get gone(): boolean {
    return this.current === SessionState.CLOSED;
  }

  /** True once a live notification has set this session's categories (newer than its snapshot). */
  get categoriesNoted(): boolean {
    return this.noted;
  }

  /** A live notification set this session's categories: its connect must not apply an older snapshot. */
  noteCategories(): void {
    this.noted = true;
  }

  /** The client answered a ping, or sent a frame: it is alive. */
  heardFrom(): void {
    this.liveness.heardFrom();
  }

  /** One heartbeat round (liveness.ts): false when the caller should cut the socket off; else pinged if need be. */
  heartbeat(): boolean {
    const ping = this.liveness.round();
    if (ping === null) return false;
    if (ping) this.ws.ping();
    return true;
  }

  /** A new second: the frame budget (WS_MAX_FRAMES_PER_SECOND) starts over. */
  resetFrameBudget(): void {
    this.budget.reset();
  }

  /** True once the token has expired at `now` (epoch ms). */
  expired(now: number): boolean {
    return now >= this.expiresAt;
  }

  /** Cut the socket off without a close frame (it did not answer a ping or a close in time). */
  terminate(): void {
    this.ws.terminate();
  }

  sendFrame(frame: ServerFrame): void {
    if (this.closed) return;
    this.liveness.spokeTo();
    this.ws.send(JSON.stringify(frame));
  }

  /** Answer a bad frame with an `error` frame; a client that keeps sending them is closed (4008). */
  sendError(code: ErrorCode, message: string = ErrorCodes[code].message): void {
    this.ctx.metrics.frameErrors.inc({ code });
    if (!this.budget.error()) return this.closeForAbuse();
    this.sendFrame({ type: 'error', code, message });
  }

  /**
   * Push one message (frame serialized once, by ingest) and record its exposure. Returns false
   * when the session is closed or the message has expired. `written` is called once the frame
   * has been handed to the OS (or the socket failed).
   */
  push(given: EncodedMessage, via: ExposureEvent['via'], now = Date.now(), written?: (err?: Error) => void, category?: string): boolean {
    // The newest version of an updated message; none of a recalled one.
    const message = this.ctx.changes.current(given);
    if (this.closed || message === null || message.expiresAt <= now) {
      written?.();
      return false;
    }
    // The frame goes out once its exposure event is in the write-ahead log (this turn's batch):
    // the log calls sendLogged() then, for the pushes in the order they were recorded.
    this.logged.add(message, via, written, category);
    this.ctx.publisher.record(message.id, message.category, this.exposurePart, via, this);
    return true;
  }

  /** The exposure log lets this session's oldest recorded push go (push()): written unless the socket went. */
  sendLogged(): boolean {
    return this.logged.takeOldest(this, this.write);
  }

  /**
   * Write a logged push to the socket; false (and no exposure) when the socket has gone meanwhile.
   * `category`: the log it is an entry of (pushOutgoing), for its ack.
   */
  private write(logged: EncodedMessage, via: ExposureEvent['via'], written?: (err?: Error) => void, category?: string): boolean {
    // Looked up again: an update or a recall may have come while the event was being logged (the
    // gateway confirmed it then, so this frame must be the newest version, or not go at all).
    const message = this.ctx.changes.current(logged);
    if (this.closed || this.ws.readyState !== OPEN || message === null) {
      // A recalled category entry counts as done for the user's position, as an ack would.
      if (message === null && category !== undefined) this.cursors?.acked(logged.id, category);
      written?.();
      return false;
    }
    // `message` frames are bytes already (EncodedMessage.frame), shared by every session: prepared once.
    // A drain's frames come many to a burst: the first is held too.
    this.burst = beforeFrame(this.ws, this.burst, via === 'offline');
    sendText(this.ws, message.frame, written);
    this.liveness.spokeTo();
    this.recent.add(message.id, message.category);
    this.ctx.metrics.pushed(via);
    if (this.acks.pushed(message.id, category) > 0) this.ctx.metrics.unackedForgotten.inc();
    // Frames a write burst holds back are not the client's slowness (write-burst.ts).
    if (this.ws.bufferedAmount > this.ctx.sendBufferMaxBytes && !holding(this.ws)) this.closeSlow();
    return true;
  }

  /** Whether this session received the message among its last WS_RECENT_IDS (for `update` / `delete`). */
  received(id: string): boolean {
    return this.recent.has(id);
  }

  /** The category of a message among the last WS_RECENT_IDS written (undefined: not among them). */
  categoryOf(id: string): string | null | undefined {
    return this.recent.categoryOf(id);
  }

  /** An `update` or `delete` frame for a message this session received. */
  sendChange(frame: Buffer | string): void {
    if (this.closed || this.ws.readyState !== OPEN) return;
    this.liveness.spokeTo();
    sendText(this.ws, frame);
  }

  /** The session's category cursors if it has any yet (acks of sessions without categories make none). */
  get openedCategories(): CategoryCursors | undefined {
    return this.cursors;
  }

  /** Where the session stands in its categories' logs (category-cursors.ts); made on first use. */
  get categories(): CategoryCursors {
    return (this.cursors ??= new CategoryCursors(this.ctx.maxUnackedIds, (category, entry) => this.ctx.onPosition(this, category, entry)));
  }

  /**
   * A message (see push), or a category log entry (delivery/entry-push.ts: pushed unless this
   * session pushed or passed it already; an expired one is passed). True when pushed.
   */
  pushOutgoing(item: Outgoing, via: ExposureEvent['via'], now = Date.now(), written?: (err?: Error) => void): boolean {
    const { message, category, entry } = item;
    if (category === undefined || entry === undefined) return this.push(message, via, now, written);
    return pushEntry(this, message, category, entry, via, now, written);
  }

  /**
   * A live message or category log entry: pushed now, or, while a drain runs, held to follow it
   * (the drain pushes it). What is held is bounded by SEND_BUFFER_MAX_BYTES like the socket's
   * queue: past it the client is too slow for its traffic (4009); the messages are in its inbox
   * or its categories' logs for the next connection.
   */
  deliverLive(message: EncodedMessage, category?: string, entry?: string): void {
    if (this.pending) {
      if (this.pending.add({ message, category, entry }) > this.ctx.sendBufferMaxBytes) this.closeSlow();
    } else if (category === undefined || entry === undefined) this.push(message, 'live');
    else pushEntry(this, message, category, entry, 'live', Date.now());
  }

  /**
   * The next live message that waited behind the drain, skipping those in `drained` (the inbox
   * snapshot the drain pushed), in arrival order, which is ingest order. When none is left the
   * session becomes OPEN in the same step, so no live message can slip in between.
   */
  nextPending(drained: ReadonlySet<string>): Outgoing | undefined {
    const next = this.pending?.next(drained);
    if (next) return next;
    this.pending = null;
    this.acks.endDrain();
    if (this.current === SessionState.DRAINING) this.current = SessionState.OPEN;
    return undefined;
  }

  /** Handle one client frame (client-intake.ts); none once the socket is gone. */
  onFrame(data: RawData, isBinary: boolean): void {
    if (this.current === SessionState.CLOSED) return;
    this.liveness.heardFrom();
    receiveFrame(this, data, isBinary, this.current === SessionState.CLOSING);
  }

  /** 4008, and the gateway refuses the user's reconnects for a while. */
  closeForAbuse(): void {
    this.close(CloseCode.POLICY);
    this.ctx.onAbuse(this);
  }

  /**
   * The client does not read: what is queued for it stays in memory until the socket goes, and a
   * close frame would wait behind it. Say 4009 and cut the socket off shortly after.
   */
  private closeSlow(): void {
    this.close(CloseCode.SLOW_CONSUMER);
    setTimeout(() => this.terminate(), SLOW_CLOSE_GRACE_MS).unref();
  }

  close(code: CloseCode): void {
    if (this.closed) return;
    this.current = SessionState.CLOSING;
    this.pending = null;
    this.ctx.metrics.closes.inc({ code: String(code) });
    this.ws.close(code, closeReason[code]);
  }

  /** The socket is gone (closed by either side). */
  markClosed(): void {
    this.current = SessionState.CLOSED;
    this.pending = null;
  }
}
