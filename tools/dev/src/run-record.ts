/**
 * `dev-run.json` in the launcher's state directory: which launcher runs, its watchdog, and every
 * process the watchdog has seen it start (and those start, as Postgres' workers). The watchdog
 * keeps it current; it is what lets the next `npm run dev` find and stop what a killed run left.
 */
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcessId } from './proc';

export const RUN_RECORD_FILE = 'dev-run.json';

export interface RunRecord {
  launcher: ProcessId;
  watchdog: ProcessId;
  /** The embedded Postgres' data directory, when the stack runs one. */
  postgresDir?: string;
  processes: ProcessId[];
}

export function readRunRecord(dir: string): RunRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(join(dir, RUN_RECORD_FILE), 'utf8')) as RunRecord;
    return record?.launcher && record.watchdog && Array.isArray(record.processes) ? record : undefined;
  } catch {
    return undefined; // none, or unreadable: nothing we can trust to kill by
  }
}

export function writeRunRecord(dir: string, record: RunRecord): void {
  const path = join(dir, RUN_RECORD_FILE);
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  renameSync(temp, path);
}

/** Removes the record if it is launcher `pid`'s (never a later launcher's). */
export function removeRunRecord(dir: string, pid: number): void {
  if (readRunRecord(dir)?.launcher.pid !== pid) return;
  try {
    unlinkSync(join(dir, RUN_RECORD_FILE));
  } catch {
    // gone already
  }
}
