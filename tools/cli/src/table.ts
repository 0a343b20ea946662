/** Plain-text tables for the terminal: a header, a rule, left-aligned text and right-aligned numbers. */
export type Cell = string | number | null | undefined;

export interface TableOptions {
  /** Columns (by index) aligned right; numbers are by default. */
  alignRight?: number[];
  /** Cells longer than this are cut with an ellipsis. @default 60 */
  maxWidth?: number;
}

function text(cell: Cell, maxWidth: number): string {
  const s = cell === null || cell === undefined ? '-' : String(cell).replace(/\s+/g, ' ');
  return s.length > maxWidth ? `${s.slice(0, maxWidth - 1)}…` : s;
}

export function formatTable(headers: string[], rows: Cell[][], opts: TableOptions = {}): string {
  const maxWidth = opts.maxWidth ?? 60;
  const cells = rows.map((row) => row.map((c) => text(c, maxWidth)));
  const right = new Set(opts.alignRight ?? []);
  rows[0]?.forEach((c, i) => typeof c === 'number' && right.add(i));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const line = (row: string[]) =>
    row
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n';
}
