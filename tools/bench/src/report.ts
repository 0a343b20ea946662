/** What a run reports: the medians, the table, the JSON file, latency percentiles (HdrHistogram, in µs). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { build, decodeFromCompressedBase64, type Histogram } from 'hdr-histogram-js';
import type { Column, Row } from './scenario';

export interface BenchResult {
  scenario: string;
  parameters: Record<string, unknown>;
  machine: ReturnType<typeof describeMachine>;
  /** When the run started (ISO 8601). */
  date: string;
  rows: Row[];
  rounds: Row[][];
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Row i of every round together: the median of numbers, a boolean held in every round, text joined with "/" where it differs; nulls skipped. */
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

/** The machine, with its load averages when the run started: anything else busy? */
export function describeMachine() {
  const cpu = cpus();
  return {
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${type()} ${release()}`,
    loadAverageAtStart: loadavg().map((load) => Math.round(load * 100) / 100),
  };
}

/** `<dir>/<scenario>-<ISO 8601 basic timestamp>.json` (no colons: a safe file name anywhere). */
export function writeResult(dir: string, result: BenchResult): string {
  mkdirSync(dir, { recursive: true });
  const stamp = result.date.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const file = join(dir, `${result.scenario}-${stamp}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  return file;
}

/** A histogram of microseconds with `encoded` (compressed base64) added in. */
export function newHistogram(encoded: readonly string[] = []): Histogram {
  const histogram = build({ numberOfSignificantValueDigits: 3 });
  for (const text of encoded) {
    const part = decodeFromCompressedBase64(text);
    histogram.add(part);
    part.destroy();
  }
  return histogram;
}

/** The percentiles in ms; frees the histogram. */
export function latencyOf(histogram: Histogram) {
  const ms = (micros: number) => Math.round(micros) / 1000;
  const latency = {
    p50Ms: ms(histogram.getValueAtPercentile(50)),
    p99Ms: ms(histogram.getValueAtPercentile(99)),
    maxMs: ms(histogram.maxValue),
    count: histogram.totalCount,
  };
  histogram.destroy();
  return latency;
}

export const summarize = (columns: readonly Column[], row: Row): string =>
  columns.map((column) => `${column.label ?? column.key} ${formatCell(row[column.key], column.digits ?? 0)}`).join(', ');

export const secondsBetween = (fromMs: number | null, toMs: number | null): number | null =>
  fromMs === null || toMs === null ? null : Math.max(0, toMs - fromMs) / 1000;
