/**
 * A column of a batch as a Postgres array literal (`{"a","b",NULL}`), for `unnest($n::text[])`
 * and the like, written with a few builtin calls instead of pg's per-element conversion. pg turns
 * an array parameter into the same text, but element by element in JavaScript (a type check, two
 * regular-expression replaces and a string concatenation each): 0.72–0.80 µs an exposure's eight
 * columns where this takes 0.31, and in a profile of the consumer at 1,000 events a second, where
 * the code runs twice a second below V8's optimizing tier, ~4.9 µs against ~1.1
 * (docs/BENCHMARKS.md, "Events compressed…"). A column without `"`, `\` or NULL (ids, times,
 * names: nearly every one) is one `join`; any other is escaped element by element as pg would.
 */

/** Characters a quoted array element must escape with a backslash. */
const NEEDS_ESCAPE = /["\\]/;
const ESCAPED = /["\\]/g;

/** `values` as a Postgres array literal: each element quoted (NULL for null), `"` and `\` escaped. */
export function textArrayLiteral(values: ReadonlyArray<string | null>): string {
  if (values.length === 0) return '{}';
  if (!values.includes(null) && !NEEDS_ESCAPE.test(values.join(''))) return `{"${values.join('","')}"}`;
  const parts = values.map((value) => (value === null ? 'NULL' : `"${value.replace(ESCAPED, '\\$&')}"`));
  return `{${parts.join(',')}}`;
}
