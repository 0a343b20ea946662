/**
 * RFC 3339 date-times (section 5.6), as `sendAt` takes them: date, a `T`, time with seconds and
 * an optional fraction, then `Z` or a numeric offset (letters in either case). Shared by ingest,
 * which judges them, and the CLI, which refuses a malformed one before any request.
 */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** The form, for JSON schemas; parseRfc3339 also checks the values (no February 30). */
export const RFC3339_PATTERN = RFC3339;

/** Epoch ms of an RFC 3339 date-time, or null when the text is not one (Feb 30, 24:00, an offset past 23:59…). */
export function parseRfc3339(text: string): number | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const offsetHours = m[9] === undefined ? 0 : Number(m[9]);
  const offsetMinutes = m[10] === undefined ? 0 : Number(m[10]);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) return null;
  // Date.UTC rolls February 30 over to March: a day past the month's last comes back as another.
  if (new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) return null;
  const ms = Date.parse(text.toUpperCase());
  return Number.isFinite(ms) ? ms : null;
}

/**
 * `new Date(ms).toISOString()` and back, kept for the last time asked: the messages of one batch,
 * or of one turn, share their millisecond, and each made the same string (and `Date.parse` read it
 * back) once per message. One per kind of time (created, expires): they alternate otherwise.
 */
export class IsoTimes {
  private ms = NaN;
  private text = '';

  /** `new Date(ms).toISOString()`. */
  iso(ms: number): string {
    if (ms !== this.ms) {
      this.text = new Date(ms).toISOString();
      this.ms = ms;
    }
    return this.text;
  }

  /** `Date.parse(iso)`: not read again for the text `iso()` last made (only a text it made is kept). */
  parse(iso: string): number {
    return iso === this.text ? this.ms : Date.parse(iso);
  }
}
