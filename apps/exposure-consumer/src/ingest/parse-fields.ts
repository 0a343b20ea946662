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
 * `Date#toISOString()`'s own form in the years 0001 to 9999 with a real calendar date, checked field
 * by field: such a time is stored as it came. Services write every time this way, and turning it
 * into a Date and back cost ~0.5 µs per field (docs/BENCHMARKS.md).
 */
const CANONICAL_TIME = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;
const DAYS_IN_MONTH = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The number the ASCII digits of `text` from `start` to `end` spell. */
function digits(text: string, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) n = n * 10 + text.charCodeAt(i) - 48;
  return n;
}

function isCanonicalTime(text: string): boolean {
  if (text.length !== 24 || !CANONICAL_TIME.test(text)) return false;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 7);
  const day = digits(text, 8, 10);
  if (year < 1 || day > DAYS_IN_MONTH[month]) return false;
  return month !== 2 || day < 29 || (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0));
}

/**
 * A date-time field normalised to `Date#toISOString()` (UTC, milliseconds), or undefined when it is
 * not an ISO-8601 date-time with a zone in the years Postgres stores (it would refuse the whole
 * batch holding it, again at every redelivery). What `timeRefusal` says why.
 */
export function isoTime(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (isCanonicalTime(value)) return value;
  if (!ISO_DATE_TIME.test(value)) return undefined;
  const time = new Date(value);
  if (Number.isNaN(time.getTime()) || !inStoredRange(time)) return undefined;
  return time.toISOString();
}

/** Why isoTime refused `value` (of the field `name`): its form, or its years. */
export function timeRefusal(name: string, value: unknown): Refusal {
  const time = typeof value === 'string' && ISO_DATE_TIME.test(value) ? new Date(value) : undefined;
  if (!time || Number.isNaN(time.getTime())) return fail(`${name} must be an ISO-8601 date-time with a time zone`);
  return fail(`${name} must be in the years 0001 to 9999 (UTC)`);
}

/** A whole number from 0 to 2^31 − 1 (a Postgres integer), or undefined. */
export function isCount(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 2_147_483_647;
}
