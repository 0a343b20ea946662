/** Rows as a plain-text table, numbers right-aligned, for a terminal or a Markdown code block. */
import type { Column, Row } from './scenario';

export function formatTable(columns: readonly Column[], rows: readonly Row[]): string {
  const cells = rows.map((row) => columns.map((column) => formatCell(row[column.key], column.digits ?? 0)));
  const header = columns.map((column) => column.label ?? column.key);
  const widths = header.map((label, c) => Math.max(label.length, ...cells.map((line) => line[c].length)));
  const numeric = columns.map((column) => rows.some((row) => typeof row[column.key] === 'number'));
  const line = (values: string[]) =>
    values.map((value, c) => (numeric[c] ? value.padStart(widths[c]) : value.padEnd(widths[c]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n') + '\n';
}

function formatCell(value: Row[string] | undefined, digits: number): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return String(value);
    return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }
  if (typeof value === 'boolean') return value ? 'yes' : 'NO';
  return value;
}
