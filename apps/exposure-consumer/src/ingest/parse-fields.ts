/**
 * The field checks every event parser shares (parse-exposure.ts, parse-event.ts): the body as a JSON
 * object, ids, times. Reasons are short sentences for a human reading `dead_letters`.
 */
import { hasNul, inStoredRange } from '../db/storable';

/** Larger bodies cannot be events; refusing them early keeps JSON.parse cheap. */
export const MAX_EVENT_BYTES = 16 * 1024;
/** Ids are produced by our own services; this bound only stops abuse. */
export const MAX_ID_LENGTH = 200;
/** RFC 3339 / ISO-8601 date-time with a zone, as `Date#toISOString()` and the services write it. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

export type Refusal = { ok: false; reason: string };
export type Fields = Record<string, unknown>;

export function fail(reason: string): Refusal {
  return { ok: false, reason };
}

/** The body as a JSON object, or why it is not one. */
export function readObject(data: Buffer): { ok: true; raw: Fields } | Refusal {
  if (data.length > MAX_EVENT_BYTES) return fail(`body is ${data.length} bytes, over the ${MAX_EVENT_BYTES}-byte limit`);
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch {
    return fail('body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('body is not a JSON object');
  return { ok: true, raw: value as Fields };
}

export function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= MAX_ID_LENGTH && !hasNul(value);
}

/**
 * A date-time field normalised to `Date#toISOString()` (UTC, milliseconds), or undefined when it is
 * not an ISO-8601 date-time with a zone in the years Postgres stores (it would refuse the whole
 * batch holding it, again at every redelivery).
 */
export function isoTime(value: unknown): string | undefined {
  if (typeof value !== 'string' || !ISO_DATE_TIME.test(value)) return undefined;
  const time = new Date(value);
  if (Number.isNaN(time.getTime()) || !inStoredRange(time)) return undefined;
  return time.toISOString();
}

/** A whole number from 0 to 2^31 − 1 (a Postgres integer), or undefined. */
export function isCount(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 2_147_483_647;
}
