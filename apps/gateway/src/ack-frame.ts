/** The one frame a client sends: `{"type":"ack","ids":[…]}` (docs/PROTOCOL.md). */
import type { RawData } from 'ws';
import { MAX_ACK_IDS, type ErrorCode } from '@herald/types';

const MAX_ID_LENGTH = 128;

/** The ids of a valid ack frame, or the error that answers the frame. */
export function parseAck(data: RawData, isBinary: boolean): string[] | { code: ErrorCode; message?: string } {
  if (isBinary) return { code: 'INVALID_FRAME', message: 'Frames must be text.' };
  let frame: unknown;
  try {
    frame = JSON.parse(data.toString());
  } catch {
    return { code: 'INVALID_JSON' };
  }
  if (typeof frame !== 'object' || frame === null || (frame as { type?: unknown }).type !== 'ack') {
    return { code: 'UNKNOWN_FRAME' };
  }
  const ids = (frame as { ids?: unknown }).ids;
  if (
    !Array.isArray(ids) ||
    ids.length === 0 ||
    ids.length > MAX_ACK_IDS ||
    !ids.every((id) => typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH)
  ) {
    return { code: 'INVALID_FRAME', message: `ack needs "ids": 1 to ${MAX_ACK_IDS} non-empty strings.` };
  }
  return ids as string[];
}
