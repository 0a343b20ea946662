/**
 * The process table as Linux shows it in /proc: who is alive, who started whom, and whether a pid
 * is still the process we saw (a pid is reused once its process is gone, so a process is named by
 * its pid and its start time). Where there is no /proc every lookup finds nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** A process as we saw it: enough to tell it from a later process that got the same pid. */
export interface ProcessId {
  pid: number;
  /** Start time in clock ticks after boot (/proc/<pid>/stat field 22). */
  start: number;
  /** Its command line, arguments joined by spaces. */
  command: string;
}

interface Stat {
  ppid: number;
  start: number;
  /** R, S, D, Z (zombie: exited, not yet reaped), … */
  state: string;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: split after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], ppid: Number(fields[1]), start: Number(fields[19]) };
}

function readCommand(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return undefined;
  }
}

/** The process with this pid now, unless there is none or it has exited (a zombie). */
export function processId(pid: number): ProcessId | undefined {
  const stat = readStat(pid);
  if (!stat || stat.state === 'Z') return undefined;
  return { pid, start: stat.start, command: readCommand(pid) ?? '' };
}

/** True while the process we saw runs (same pid, same start time, not a zombie). */
export function isRunning(proc: Pick<ProcessId, 'pid' | 'start'>): boolean {
  return processId(proc.pid)?.start === proc.start;
}

/** The process that started a running process (or adopted it when its parent ended). */
export function parentOf(pid: number): ProcessId | undefined {
  const stat = readStat(pid);
  return stat && stat.state !== 'Z' ? processId(stat.ppid) : undefined;
}

function allPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * Every running process started by `root`, by its children, and so on (not `root` itself); with
 * `except`, not that process nor what it started.
 */
export function descendantsOf(root: number, except?: number): ProcessId[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const stat = readStat(pid);
    if (!stat || stat.state === 'Z') continue;
    const siblings = children.get(stat.ppid);
    if (siblings) siblings.push(pid);
    else children.set(stat.ppid, [pid]);
  }
  const found: ProcessId[] = [];
  const queue = [...(children.get(root) ?? [])];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    if (pid === except) continue;
    const proc = processId(pid);
    if (proc) found.push(proc);
    queue.push(...(children.get(pid) ?? []));
  }
  return found;
}
