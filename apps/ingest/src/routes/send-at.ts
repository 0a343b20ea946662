/**
 * `sendAt` of POST /v1/messages: an RFC 3339 date-time (section 5.6: a `T` between date and time,
 * seconds, optional fraction, a `Z` or numeric offset; letters in either case) no earlier than a
 * few seconds ago and at most SCHEDULE_MAX_AHEAD_SECONDS ahead. A time within the tolerance
 * before now (the producer's clock a little behind ingest's, a request slow to arrive) is sent as
 * soon as possible, through the same scheduled path; anything earlier is refused, since a
 * producer asking for a time long past has most likely made a mistake.
 */
import { HeraldError, parseRfc3339, RFC3339_PATTERN } from '@herald/types';

/** How far in the past a `sendAt` may be and still be sent (at once). */
export const SEND_AT_PAST_TOLERANCE_MS = 5000;

/** The JSON schema of `sendAt` (the form; the range is checked against the clock by sendAtOf). */
export const sendAtSchema = {
  type: 'string',
  maxLength: 64,
  pattern: RFC3339_PATTERN.source,
  description:
    'Send at this time instead of now: an RFC 3339 date-time with a time zone, e.g. 2026-12-24T18:00:00Z, ' +
    `at most SCHEDULE_MAX_AHEAD_SECONDS (30 days) ahead; a time up to ${SEND_AT_PAST_TOLERANCE_MS / 1000} s in the past ` +
    'is sent at once, an earlier one is refused (INVALID_SEND_AT). The TTL counts from the send time.',
} as const;

/**
 * The send time a `sendAt` asks for (epoch ms), or INVALID_SEND_AT saying what is wrong with it.
 * Returned rather than thrown, so a repeat under an Idempotency-Key whose time has passed since
 * can still be answered from its first request.
 */
export function sendAtOf(text: string, maxAheadSeconds: number, now = Date.now()): number | HeraldError {
  const at = parseRfc3339(text);
  if (at === null) return new HeraldError('INVALID_SEND_AT', `body/sendAt: "${text}" is not an RFC 3339 date-time with a time zone, e.g. 2026-12-24T18:00:00Z.`);
  if (at < now - SEND_AT_PAST_TOLERANCE_MS) {
    return new HeraldError('INVALID_SEND_AT', `body/sendAt: ${text} is in the past; leave sendAt out to send now.`);
  }
  if (at > now + maxAheadSeconds * 1000) {
    return new HeraldError('INVALID_SEND_AT', `body/sendAt: ${text} is more than ${maxAheadSeconds} s (SCHEDULE_MAX_AHEAD_SECONDS) ahead.`);
  }
  return at;
}
