/** IsoTimes: toISOString and Date.parse, kept for the last time asked. */
import { IsoTimes } from '../src';

const AT = Date.UTC(2026, 11, 6, 9, 30, 15, 123);

it('gives what toISOString gives, for the same and for other milliseconds in any order', () => {
  const times = new IsoTimes();
  for (const ms of [AT, AT, AT + 1, AT, 0, -1, 8.64e15, AT + 86_400_000, AT + 86_400_000]) {
    expect(times.iso(ms)).toBe(new Date(ms).toISOString());
  }
});

it('parses what Date.parse parses, the text it made last and any other', () => {
  const times = new IsoTimes();
  const made = times.iso(AT);
  expect(times.parse(made)).toBe(AT);
  expect(times.parse('2026-12-06T09:30:15.999Z')).toBe(Date.parse('2026-12-06T09:30:15.999Z'));
  // Another text of the same instant is not taken for the one it made.
  expect(times.parse('2026-12-06T09:30:15.123+00:00')).toBe(AT);
  expect(times.parse('not a time')).toBeNaN();
  // Parsing keeps nothing: the text made for a millisecond stays toISOString's.
  expect(times.parse('2026-12-06T10:30:15.123+01:00')).toBe(AT);
  expect(times.iso(AT)).toBe('2026-12-06T09:30:15.123Z');
});

it('throws as toISOString does for a time it cannot write, and then still works', () => {
  const times = new IsoTimes();
  expect(() => times.iso(NaN)).toThrow(RangeError);
  expect(() => times.iso(8.64e15 + 1)).toThrow(RangeError);
  expect(times.iso(AT)).toBe(new Date(AT).toISOString());
});
