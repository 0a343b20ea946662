/**
 * A client's frames applied to its session (docs/PROTOCOL.md): each counted against the
 * connection's budget (frame-budget.ts), then parsed at the door (client-frame.ts). `ack` ids go to
 * the session's AckTracker, its category cursors and the gateway's ack batcher; `event` ids within
 * the budget to the engagement events; a bad frame is answered with an error frame. A client past
 * its frames, error frames or ignored ack ids is closed for abuse (4008).
 *
 * Once the server has closed the session (`closing`), acks and events still count until the socket
 * is gone (the client may be reading what was sent before the close frame); a bad frame is then
 * ignored without an answer. No state of its own: it is the session's (session.ts).
 */
import type { RawData } from 'ws';
import { ackIdIn, parseClientFrame, type EventIntake } from './client-frame';
import type { Session } from '../sessions/session';

export function receiveFrame(session: Session, data: RawData, isBinary: boolean, closing: boolean): void {
  if (!withinBudget(session, closing)) return;
  const frame = parseClientFrame(data, isBinary);
  if (!('type' in frame)) {
    if (frame.event) session.ctx.metrics.eventsRefused.inc({ reason: 'invalid' });
    if (!closing) session.sendError(frame.code, frame.message);
  } else if (frame.type === 'ack') acknowledge(session, frame.ids, closing);
  else engage(session, frame);
}

/**
 * An `event` frame within the session's event budget: each id costs a Pub/Sub message and, when
 * forged, the consumer's re-checks, so one connection gets WS_MAX_EVENTS_PER_SECOND ids a second;
 * the rest are dropped and counted (`budget`), without an error: the frame itself was good.
 */
function engage(session: Session, frame: EventIntake): void {
  const { ctx } = session;
  const taken = session.budget.takeEvents(frame.ids.length);
  const ids = taken < frame.ids.length ? frame.ids.slice(0, taken) : frame.ids;
  if (taken < frame.ids.length) ctx.metrics.eventsRefused.inc({ reason: 'budget' }, frame.ids.length - taken);
  if (taken > 0) ctx.events.engaged(session, ids === frame.ids ? frame : { ...frame, ids });
}

/** Apply the ids pending for the session; count the rest, and close a session that keeps sending them. */
function acknowledge(session: Session, ids: string[], closing: boolean): void {
  if (ids.length === 1) return acknowledgeOne(session, ids[0], closing, ids);
  const { acks, ctx } = session;
  const { known, categories, unknown, repeated } = acks.take(ids);
  const cursors = session.openedCategories;
  const inbox = cursors ? cursors.sortAcks(known, categories) : known;
  if (inbox.length > 0) ctx.onAck(session, inbox);
  ignored(session, unknown, repeated, closing);
}

/**
 * A small text frame read in place (frames/ws-read.ts, its first `length` bytes): applied here when
 * it is an ack of one id, as receiveFrame would apply it, with no frame buffer, intake object or
 * array made for it; false for any other frame, which then comes the usual way (Session.onFrame).
 */
export function receiveAckBytes(session: Session, bytes: Buffer, length: number): boolean {
  if (session.gone) return false;
  const id = ackIdIn(bytes, length);
  if (id === undefined) return false;
  session.heardFrom();
  const closing = session.closed;
  if (withinBudget(session, closing)) acknowledgeOne(session, id, closing);
  return true;
}

/** The frame counts against WS_MAX_FRAMES_PER_SECOND; past it the session is closed (4008) and the frame ignored. */
function withinBudget(session: Session, closing: boolean): boolean {
  if (session.budget.frame()) return true;
  if (!closing) session.closeForAbuse();
  return false;
}

/**
 * A frame of one id (what a client sends when it acknowledges each message as it comes, as in a
 * broadcast): the same steps as acknowledge() with no arrays or result objects made on the way
 * (`ids`: the frame's list of it, when one was made).
 */
function acknowledgeOne(session: Session, id: string, closing: boolean, ids?: string[]): void {
  const taken = session.acks.takeOne(id);
  if (taken === false) return ignored(session, 1, 0, closing);
  if (typeof taken === 'string' && session.openedCategories?.acked(id, taken)) return;
  session.ctx.onAck(session, ids ?? [id]);
}

/** Count the ids that were not pending; close a session past WS_MAX_IGNORED_ACK_IDS (4008). */
function ignored(session: Session, unknown: number, repeated: number, closing: boolean): void {
  const { acks, ctx } = session;
  if (unknown > 0) ctx.metrics.acksIgnored.inc({ reason: 'unknown' }, unknown);
  if (repeated > 0) ctx.metrics.acksIgnored.inc({ reason: 'repeated' }, repeated);
  if (!session.budget.ignoreAcks(unknown + repeated, acks.forgotten) && !closing) session.closeForAbuse();
}
