/** The JSON a run leaves behind: what ran, with which parameters, on which machine, and the rows. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { join } from 'node:path';
import type { Row } from './scenario';

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
  /** 1, 5 and 15 minute load averages when the run started: anything else busy on the machine? */
  loadAverageAtStart: number[];
}

export interface BenchResult {
  scenario: string;
  parameters: Record<string, unknown>;
  machine: Machine;
  /** When the run started, ISO 8601. */
  date: string;
  /** Per case, the median over the rounds (see summary.ts). */
  rows: Row[];
  /** Every round's own rows. */
  rounds: Row[][];
}

export function describeMachine(): Machine {
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

/** `<dir>/<scenario>-<ISO 8601 basic timestamp>.json` (no colons: safe as a file name anywhere). */
export function writeResult(dir: string, result: BenchResult): string {
  mkdirSync(dir, { recursive: true });
  const stamp = result.date.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const file = join(dir, `${result.scenario}-${stamp}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  return file;
}
