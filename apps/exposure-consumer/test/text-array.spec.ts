/**
 * A batch's column as a Postgres array literal (src/db/text-array.ts): the same text pg makes of an
 * array parameter, for plain columns (one join) and for ones it must escape or that hold NULL.
 * Stored through a real Postgres: ingest.spec.ts ("ids holding text that Postgres array syntax
 * gives a meaning to…").
 */
import pg from 'pg';
import { textArrayLiteral } from '../src/db/text-array';

/** pg's own conversion of an array parameter (what the consumer passed before). */
const pgLiteral = (values: ReadonlyArray<string | null>): unknown => (pg as unknown as { utils: { prepareValue(v: unknown): unknown } }).utils.prepareValue(values);

test('a plain column is its elements quoted, comma-separated, in braces; an empty one is {}', () => {
  expect(textArrayLiteral(['a', 'b-1', '2026-12-07T05:00:00.000Z'])).toBe('{"a","b-1","2026-12-07T05:00:00.000Z"}');
  expect(textArrayLiteral([])).toBe('{}');
  expect(textArrayLiteral([''])).toBe('{""}');
});

test('quotes and backslashes are escaped, null is NULL, the word NULL stays quoted', () => {
  expect(textArrayLiteral(['a"b', 'c\\d', null, 'NULL'])).toBe('{"a\\"b","c\\\\d",NULL,"NULL"}');
  expect(textArrayLiteral([null])).toBe('{NULL}');
});

test('the same text as pg makes of the array, for columns plain and awkward', () => {
  const awkward = ['a"b', 'back\\slash\\', '{x}', 'x,y', ' spaced ', 'NULL', 'ünï ☃ 𝄞', 'line\nbreak', '\\"', '"', ''];
  const columns: Array<Array<string | null>> = [
    ['e-1', 'e-2', 'e-3'],
    awkward,
    [null, 'x', null],
    ['plain', 'a"b'],
    // Random text from the awkward characters and plain ones, with nulls.
    ...Array.from({ length: 50 }, (_, n) =>
      Array.from({ length: 1 + (n % 7) }, (_, i) => ((n + i) % 5 === 0 ? null : `${'ab"\\{},N ü'.slice((n * 3 + i) % 10)}${n}`)),
    ),
  ];
  for (const column of columns) expect(textArrayLiteral(column)).toBe(pgLiteral(column));
});
