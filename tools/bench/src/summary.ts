/** Rounds into one set of rows: per case, the median of each number. */
import type { Row } from './scenario';

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Row i of the result is made of row i of every round: numbers become their median, booleans
 * hold only if they held in every round, text is kept when the rounds agree (else joined with
 * "/"), and `null` (does not apply) is skipped. Rounds must return the same cases in the same order.
 */
export function medianRows(rounds: readonly Row[][]): Row[] {
  if (rounds.length === 0) return [];
  const cases = rounds[0].length;
  for (const [i, round] of rounds.entries()) {
    if (round.length !== cases) throw new Error(`round ${i + 1} returned ${round.length} rows, round 1 returned ${cases}`);
  }
  return rounds[0].map((first, i) => {
    const row: Row = {};
    for (const key of Object.keys(first)) {
      const values = rounds.map((round) => round[i][key]).filter((v) => v !== null && v !== undefined);
      if (values.length === 0) row[key] = null;
      else if (values.every((v) => typeof v === 'number')) row[key] = median(values as number[]);
      else if (values.every((v) => typeof v === 'boolean')) row[key] = values.every(Boolean);
      else row[key] = [...new Set(values.map(String))].join('/');
    }
    return row;
  });
}
