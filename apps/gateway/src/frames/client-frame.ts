/**
 * The frames a client sends (docs/PROTOCOL.md): `{"type":"ack","ids":[…]}` and
 * `{"type":"event","id"|"ids","kind","action"?}`. Parsed and checked here, at the door of the
 * session; anything else is the error that answers it.
 */
import type { RawData } from 'ws';
import {
  ENGAGEMENT_KINDS,
  isEngagementAction,
  isMessageId,
  MAX_ACK_IDS,
  MAX_EVENT_IDS,
  type EngagementKind,
  type ErrorCode,
} from '@herald/types';

const MAX_ID_LENGTH = 128;

export interface AckIntake {
  type: 'ack';
  ids: string[];
}

/** An `event` frame, its single `id` or batch `ids` as one list. */
export interface EventIntake {
  type: 'event';
  ids: string[];
  kind: EngagementKind;
  action?: string;
}

export interface FrameRefusal {
  code: ErrorCode;
  message?: string;
  /** Set when the frame was an `event` frame (counted apart: herald_gateway_events_refused_total). */
  event?: true;
}

const EVENT_SHAPE =
  `event needs "kind" (${ENGAGEMENT_KINDS.join(', ')}) and either "id" or "ids" (1 to ${MAX_EVENT_IDS}) ` +
  'of message ids; "action" only with clicked, 1 to 64 of A-Z a-z 0-9 _ - . :';

/** The frame, checked, or the error that answers it. */
export function parseClientFrame(data: RawData, isBinary: boolean): AckIntake | EventIntake | FrameRefusal {
  if (isBinary) return { code: 'INVALID_FRAME', message: 'Frames must be text.' };
  const one = Buffer.isBuffer(data) ? ackIdIn(data, data.length) : undefined;
  if (one !== undefined) return { type: 'ack', ids: [one] };
  let frame: unknown;
  try {
    frame = JSON.parse(data.toString());
  } catch {
    return { code: 'INVALID_JSON' };
  }
  if (typeof frame !== 'object' || frame === null) return { code: 'UNKNOWN_FRAME' };
  const { type } = frame as { type?: unknown };
  if (type === 'ack') return parseAck(frame as Record<string, unknown>);
  if (type === 'event') return parseEvent(frame as Record<string, unknown>);
  return { code: 'UNKNOWN_FRAME' };
}

/** The frame a client sends for each message it gets (the SDK's and the bench's `ack` of one id), as bytes. */
const ACK_HEAD = Buffer.from('{"type":"ack","ids":["');
const ACK_TAIL = Buffer.from('"]}');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The id of an `ack` frame of one id written exactly as `JSON.stringify` writes it, read from the
 * frame's first `length` bytes: what JSON.parse and parseAck give for it, without the frame's
 * string and objects (a broadcast brings one such frame per member). Undefined for anything else,
 * which goes the whole way: an id with an escape, a control character or a non-ASCII byte,
 * another layout. The id is a string of its own (`data` may be written over next).
 */
export function ackIdIn(data: Buffer, length: number): string | undefined {
  const end = length - ACK_TAIL.length;
  const from = ACK_HEAD.length;
  if (end <= from || end - from > MAX_ID_LENGTH) return undefined;
  if (!holds(data, 0, ACK_HEAD) || !holds(data, end, ACK_TAIL)) return undefined;
  for (let i = from; i < end; i++) {
    const byte = data[i];
    if (byte < 0x20 || byte > 0x7e || byte === QUOTE || byte === BACKSLASH) return undefined;
  }
  return data.toString('latin1', from, end);
}

/** Whether `data` holds `bytes` at `at` (a few bytes: compared here, with no native call). */
function holds(data: Buffer, at: number, bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) if (data[at + i] !== bytes[i]) return false;
  return true;
}

function parseAck(frame: Record<string, unknown>): AckIntake | FrameRefusal {
  const ids = frame.ids;
  if (
    !Array.isArray(ids) ||
    ids.length === 0 ||
    ids.length > MAX_ACK_IDS ||
    !ids.every((id) => typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH)
  ) {
    return { code: 'INVALID_FRAME', message: `ack needs "ids": 1 to ${MAX_ACK_IDS} non-empty strings.` };
  }
  return { type: 'ack', ids: ids as string[] };
}

/** Every member the protocol names checked (others are ignored, as in `ack`). */
function parseEvent(frame: Record<string, unknown>): EventIntake | FrameRefusal {
  const refused: FrameRefusal = { code: 'INVALID_FRAME', message: EVENT_SHAPE, event: true };
  const { id, ids, kind, action } = frame;
  if (!(ENGAGEMENT_KINDS as readonly unknown[]).includes(kind)) return refused;
  if (action !== undefined && (kind !== 'clicked' || !isEngagementAction(action))) return refused;
  let list: string[];
  if (id !== undefined && ids === undefined && isMessageId(id)) list = [id];
  else if (id === undefined && Array.isArray(ids) && ids.length > 0 && ids.length <= MAX_EVENT_IDS && ids.every(isMessageId)) {
    list = ids as string[];
  } else return refused;
  const intake: EventIntake = { type: 'event', ids: list, kind: kind as EngagementKind };
  if (action !== undefined) intake.action = action as string;
  return intake;
}
