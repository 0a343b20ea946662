/**
 * What `npm run dev` leaves for the herald CLI while it runs: `dev.json` in its state directory
 * (HERALD_DEV_DIR, `.herald` in the repository by default), mode 0600, naming the launcher's pid
 * and the CLI's settings for that stack (its URLs, its Redis, its development secret). The
 * launcher writes it once the stack is up and removes it when the stack stops; a file whose
 * launcher is gone (killed before it could remove it) is stale and must not be used.
 */
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEV_STACK_FILE = 'dev.json';
/** The launcher's entry point, as it shows in its command line (/proc/<pid>/cmdline). */
export const DEV_LAUNCHER_ENTRY = 'tools/dev/src/main.ts';

/** The settings the file may carry: the herald CLI's own variable names. */
export const DEV_STACK_SETTINGS = [
  'HERALD_GATEWAY_URL',
  'HERALD_INGEST_URL',
  'HERALD_CONSUMER_URL',
  'REDIS_URL',
  'REDIS_CLUSTER_NODES',
  'HERALD_DEV_SECRET',
] as const;
export type DevStackSetting = (typeof DEV_STACK_SETTINGS)[number];

export interface DevStackFile {
  /** The launcher's pid: the file holds only while that process runs. */
  pid: number;
  startedAt: string;
  settings: Partial<Record<DevStackSetting, string>>;
}

export type DevStackLookup =
  | { state: 'none' }
  | { state: 'running'; path: string; file: DevStackFile }
  /** The file is there but its launcher is not (killed before it could remove the file). */
  | { state: 'stale'; path: string; pid: number }
  | { state: 'invalid'; path: string; reason: string };

export function devStackPath(dir: string): string {
  return join(dir, DEV_STACK_FILE);
}

/** Writes the file (mode 0600: it holds the dev secret) in one step: a reader never sees half. */
export function writeDevStackFile(dir: string, file: DevStackFile): string {
  const path = devStackPath(dir);
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  renameSync(temp, path);
  return path;
}

/** Removes the file if it is the one launcher `pid` wrote (never a later launcher's). */
export function removeDevStackFile(dir: string, pid: number): void {
  const found = readDevStackFile(dir);
  if (found.state === 'none' || (found.state !== 'invalid' && pidOf(found) !== pid)) return;
  try {
    unlinkSync(found.path);
  } catch {
    // gone already
  }
}

function pidOf(found: Extract<DevStackLookup, { state: 'running' | 'stale' }>): number {
  return found.state === 'running' ? found.file.pid : found.pid;
}

export function readDevStackFile(dir: string): DevStackLookup {
  const path = devStackPath(dir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'none' };
    return { state: 'invalid', path, reason: (err as Error).message };
  }
  let file: DevStackFile;
  try {
    file = JSON.parse(text) as DevStackFile;
  } catch (err) {
    return { state: 'invalid', path, reason: (err as Error).message };
  }
  if (!Number.isInteger(file?.pid) || typeof file.settings !== 'object' || file.settings === null) {
    return { state: 'invalid', path, reason: 'it has no "pid" or no "settings"' };
  }
  const settings: DevStackFile['settings'] = {};
  for (const name of DEV_STACK_SETTINGS) {
    const value: unknown = file.settings[name];
    if (typeof value === 'string') settings[name] = value;
  }
  return launcherRuns(file.pid) ? { state: 'running', path, file: { ...file, settings } } : { state: 'stale', path, pid: file.pid };
}

/**
 * Whether `pid` is a running dev launcher. Where /proc shows command lines (Linux), the pid must
 * still be the launcher (pids are reused), not merely some live process.
 */
function launcherRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  let command: string;
  try {
    command = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return true; // no /proc: a live pid is the best we know
  }
  return command.includes(DEV_LAUNCHER_ENTRY);
}
