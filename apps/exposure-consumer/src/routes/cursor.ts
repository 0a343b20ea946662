/**
 * The opaque `cursor` of GET /v1/exposures: base64url of the last item's (deliveredAt, eventId),
 * so the next page starts strictly after it whatever was inserted meanwhile. Clients must treat it
 * as opaque; anything we did not produce is refused with INVALID_CURSOR.
 */
import { HeraldError } from '@herald/types';
import type { Position } from '../db/exposure-store';
import { hasNul, inStoredRange } from '../db/storable';

const VERSION = 1;
const MAX_CURSOR_LENGTH = 1024;


export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([VERSION, position.deliveredAt, position.eventId])).toString('base64url');
}

export function decodeCursor(cursor: string): Position {
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw new HeraldError('INVALID_CURSOR');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new HeraldError('INVALID_CURSOR');
  }
  if (!Array.isArray(value) || value.length !== 3 || value[0] !== VERSION) throw new HeraldError('INVALID_CURSOR');
  const [, deliveredAt, eventId] = value as [number, unknown, unknown];
  if (typeof deliveredAt !== 'string' || typeof eventId !== 'string' || eventId.length === 0) throw new HeraldError('INVALID_CURSOR');
  // Postgres text cannot hold NUL; no stored event id has one.
  if (hasNul(eventId)) throw new HeraldError('INVALID_CURSOR');
  const time = new Date(deliveredAt);
  if (Number.isNaN(time.getTime()) || time.toISOString() !== deliveredAt || !inStoredRange(time)) throw new HeraldError('INVALID_CURSOR');
  return { deliveredAt, eventId };
}
