/**
 * Turns one Pub/Sub message body into an exposure event (Contract shape), or says why it is not
 * one. Anything refused here goes to `dead_letters`, so reasons are short sentences for a human.
 *
 * `deliveredAt` is normalised to `Date#toISOString()` (millisecond precision, UTC): that is what the
 * API gives back, and it keeps the (deliveredAt, eventId) cursor exact.
 */
import { isCategory, isUserId, type ExposureEvent } from '@herald/types';
import { fail, isId, isoTime, readObject, timeRefusal, type Fields, type Refusal } from './parse-fields';

export { MAX_EVENT_BYTES } from './parse-fields';

export type ParseResult = { ok: true; event: ExposureEvent } | Refusal;

export function parseExposure(data: Buffer): ParseResult {
  const body = readObject(data);
  return body.ok ? exposureFrom(body.raw) : body;
}

/** The exposure in a body already read as a JSON object (parse-event.ts reads it once for every kind). */
export function exposureFrom(raw: Fields): ParseResult {
  for (const field of ['eventId', 'messageId', 'sessionId', 'gatewayId'] as const) {
    if (!isId(raw[field])) return fail(`${field} must be a string of 1-200 characters`);
  }
  if (!isUserId(raw.userId)) return fail('userId is missing or not a valid user id');
  if (raw.category !== null && !isCategory(raw.category)) return fail('category must be null or a valid category name');
  if (raw.via !== 'offline' && raw.via !== 'live') return fail('via must be "offline" or "live"');
  // Postgres would refuse the whole batch holding a time outside its years, again at every redelivery.
  const deliveredAt = isoTime(raw.deliveredAt);
  if (!deliveredAt) return timeRefusal('deliveredAt', raw.deliveredAt);

  return {
    ok: true,
    event: {
      eventId: raw.eventId as string,
      messageId: raw.messageId as string,
      userId: raw.userId,
      category: raw.category,
      sessionId: raw.sessionId as string,
      gatewayId: raw.gatewayId as string,
      deliveredAt,
      via: raw.via,
    },
  };
}

/**
 * A message body as text for the `dead_letters.data` column. Postgres text cannot hold NUL bytes or
 * invalid UTF-8, and a dead letter that cannot be stored would be redelivered forever; such bodies
 * are kept as `base64:<…>`.
 */
export function storableText(data: Buffer): string {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(data);
    if (!text.includes('\u0000')) return text;
  } catch {
    // not UTF-8: fall through to base64
  }
  return `base64:${data.toString('base64')}`;
}
