/**
 * A batch's rows as one array parameter per column: `unnest($first::type[], …)` in the SQL, each
 * column's values as the Postgres array literal that `$n::type[]` reads.
 *
 * The literals are written here rather than by pg's `prepareValue`, which builds each element
 * through two regex replaces and a string of cons cells: ~2 µs of the consumer's CPU per event in
 * its profile at 1,000 events/s (docs/BENCHMARKS.md). Every element is quoted, with `\` and `"`
 * escaped, so no text can end an element early or read as NULL; a null is NULL, a number its
 * digits. The consumer refuses a NUL before a value gets here (it cannot be in Postgres text).
 */

/** `unnest($first::type[], …)`: the rows of a batch given as one array per column. */
export function unnestOf(types: readonly string[], first: number): string {
  return `unnest(${types.map((type, i) => `$${first + i}::${type}[]`).join(', ')})`;
}

const NEEDS_ESCAPE = /["\\]/;
const ESCAPED = /["\\]/g;

/** One column's values (text, whole numbers, nulls) as a Postgres array literal. */
export function arrayLiteral(values: readonly unknown[]): string {
  const elements = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) elements[i] = 'NULL';
    else if (typeof value === 'string') elements[i] = NEEDS_ESCAPE.test(value) ? `"${value.replace(ESCAPED, '\\$&')}"` : `"${value}"`;
    else if (typeof value === 'number' && Number.isSafeInteger(value)) elements[i] = String(value);
    else throw new TypeError(`arrayLiteral: ${typeof value} ${String(value)} is not text, a whole number or null`);
  }
  return `{${elements.join(',')}}`;
}

/** A write part's columns (`WritePart.arrays`) as the statement's parameters. */
export function columnParams(columns: readonly unknown[]): string[] {
  return columns.map((column) => arrayLiteral(column as readonly unknown[]));
}
