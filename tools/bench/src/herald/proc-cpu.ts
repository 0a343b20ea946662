/**
 * CPU time of processes we did not start ourselves (the Pub/Sub emulator's JVM), read from
 * Linux's /proc. Elsewhere it reports nothing (`undefined`) rather than a wrong number.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** Pids with `arg` among their command-line arguments (e.g. the emulator's `--port=NNNN`). */
export function findPids(arg: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(arg)) pids.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

/** User + system CPU seconds of `pids` together; undefined when /proc cannot tell. */
export function cpuSecondsOf(pids: readonly number[]): number | undefined {
  if (pids.length === 0) return undefined;
  let ticks = 0;
  for (const pid of pids) {
    try {
      // Fields after the command name (which may hold spaces) start after the last ')'.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      return undefined;
    }
  }
  return ticks / clockTicks();
}

/**
 * CPU seconds all processes of the machine ran, all cores (user + nice + system of /proc/stat);
 * interrupt time is left out: it is not any process's, and loopback traffic makes much of it.
 * Undefined where there is no /proc.
 */
export function machineProcessSeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    // cpu  user nice system idle iowait irq softirq steal ...
    const [user, nice, system] = line.trim().split(/\s+/).slice(1).map(Number);
    return (user + nice + system) / clockTicks();
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds that processes other than `pids` ran from now until `stop()`: other people's work
 * competing with the measurement.
 */
export function otherCpu(pids: readonly number[]): { stop(): number | undefined } {
  const machine = machineProcessSeconds();
  const ours = cpuSecondsOf(pids);
  return {
    stop() {
      const machineNow = machineProcessSeconds();
      const oursNow = cpuSecondsOf(pids);
      if (machine === undefined || machineNow === undefined || ours === undefined || oursNow === undefined) return undefined;
      return Math.max(0, machineNow - machine - (oursNow - ours));
    },
  };
}

/** `roots` and every process descended from them, alive now (parents from /proc/<pid>/stat). */
export function processTree(roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (!fields) continue;
    const parent = Number(fields[1]);
    const siblings = children.get(parent);
    if (siblings) siblings.push(Number(entry));
    else children.set(parent, [Number(entry)]);
  }
  const tree = new Set<number>();
  const visit = (pid: number) => {
    if (tree.has(pid)) return;
    tree.add(pid);
    for (const child of children.get(pid) ?? []) visit(child);
  };
  for (const root of roots) visit(root);
  return [...tree];
}

/**
 * User + system CPU seconds of `roots` and all their descendants, children that exited included:
 * a reaped child's time moves into its parent's cutime/cstime, which is counted here, so the
 * difference of two readings holds short-lived workers too (Postgres backends). Undefined when
 * /proc cannot tell or no root is alive.
 */
export function treeCpuSecondsOf(roots: readonly number[]): number | undefined {
  let ticks = 0;
  let seen = 0;
  for (const pid of processTree(roots)) {
    const fields = statFields(pid);
    if (!fields) continue; // exited meanwhile: its time is in its parent's cutime once reaped
    ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]); // utime stime cutime cstime
    seen++;
  }
  return seen === 0 ? undefined : ticks / clockTicks();
}

/** The fields of /proc/<pid>/stat after the command name (state, ppid, …), or undefined. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}
