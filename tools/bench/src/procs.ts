/**
 * The one /proc sampler: CPU time and memory of processes, of process trees and of the whole
 * machine, read from Linux's /proc. Elsewhere it reports `undefined` rather than a wrong number.
 * On a 2-core box the load generators share the CPU with what they measure; a CPU window says
 * who had it.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  try {
    ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    ticksPerSecond = 100;
  }
  return ticksPerSecond;
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

function allPids(): number[] {
  try {
    return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number);
  } catch {
    return [];
  }
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return []; // gone meanwhile, or not ours to read
  }
}

/** Pids with `arg` among their command-line arguments (e.g. the emulator's `--port=NNNN`). */
export const findPids = (arg: string): number[] => allPids().filter((pid) => cmdline(pid).includes(arg));

/** Pids of `pids` whose command line mentions `text`. */
export const withCommand = (pids: readonly number[], text: string): number[] => pids.filter((pid) => cmdline(pid).join(' ').includes(text));

/** User + system CPU seconds of `pids` together; undefined when /proc cannot tell (or no pid). */
export function cpuSecondsOf(pids: readonly number[]): number | undefined {
  if (pids.length === 0) return undefined;
  let ticks = 0;
  for (const pid of pids) {
    const fields = statFields(pid);
    if (!fields) return undefined;
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
  }
  return ticks / clockTicks();
}

/** `roots` and every process descended from them, alive now. */
export function processTree(roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const parent = Number(statFields(pid)?.[1]);
    children.set(parent, [...(children.get(parent) ?? []), pid]);
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
 * User + system CPU seconds of `roots` and all their descendants, exited children included (a
 * reaped child's time moves into its parent's cutime/cstime), so the difference of two readings
 * holds short-lived workers too (Postgres backends). Undefined when no root is alive.
 */
export function treeCpuSecondsOf(roots: readonly number[]): number | undefined {
  let ticks = 0;
  let seen = 0;
  for (const pid of processTree(roots)) {
    const fields = statFields(pid);
    if (!fields) continue;
    ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    seen++;
  }
  return seen === 0 ? undefined : ticks / clockTicks();
}

/**
 * CPU seconds all processes of the machine ran, all cores (user + nice + system of /proc/stat);
 * interrupt time is left out: it is not any process's, and loopback traffic makes much of it.
 */
export function machineSeconds(): number | undefined {
  try {
    const [user, nice, system] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    return (user + nice + system) / clockTicks();
  } catch {
    return undefined;
  }
}

/** VmRSS now and VmHWM (the peak the process ever reached), in bytes; undefined without /proc. */
export function procMemory(pid: number): { rssBytes: number; peakRssBytes: number } | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kB = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  const [rssBytes, peakRssBytes] = [kB('VmRSS'), kB('VmHWM')];
  return Number.isNaN(rssBytes) || Number.isNaN(peakRssBytes) ? undefined : { rssBytes, peakRssBytes };
}

/** A group's CPU seconds: its pids, or a reader (e.g. a process tree's). */
export type CpuGroup = readonly number[] | (() => number | undefined);

export interface CpuSpent {
  wallSeconds: number;
  /** CPU seconds per group; undefined when /proc could not tell (or the group is empty). */
  groups: Record<string, number | undefined>;
  /** CPU seconds of every process on the machine, all cores. */
  machine: number | undefined;
}

/** CPU seconds spent per group (and by the machine) from now until stop(). */
export function cpuWindow(groups: Record<string, CpuGroup>): { stop(): CpuSpent } {
  const read = (group: CpuGroup) => (typeof group === 'function' ? group() : cpuSecondsOf(group));
  const started = performance.now();
  const before = Object.fromEntries(Object.entries(groups).map(([name, group]) => [name, read(group)]));
  const machineBefore = machineSeconds();
  return {
    stop() {
      const spent: CpuSpent = { wallSeconds: (performance.now() - started) / 1000, groups: {}, machine: undefined };
      for (const [name, group] of Object.entries(groups)) {
        const [then, now] = [before[name], read(group)];
        spent.groups[name] = now === undefined || then === undefined ? undefined : now - then;
      }
      const machineNow = machineSeconds();
      if (machineNow !== undefined && machineBefore !== undefined) spent.machine = machineNow - machineBefore;
      return spent;
    },
  };
}

/**
 * CPU seconds the machine spent outside every group (unknown groups count as 0), or outside the
 * groups named in `ours` (unknown when one of them is): someone else's work.
 */
export function othersSeconds(spent: CpuSpent, ours?: readonly string[]): number | undefined {
  const names = ours ?? Object.keys(spent.groups);
  if (spent.machine === undefined || (ours && names.some((name) => spent.groups[name] === undefined))) return undefined;
  return Math.max(0, spent.machine - names.reduce((sum, name) => sum + (spent.groups[name] ?? 0), 0));
}

/** CPU seconds as a percentage of one core over the window (200 = both cores of a 2-core box). */
export const cpuPct = (seconds: number | undefined, spent: CpuSpent): number | null =>
  seconds === undefined ? null : (seconds / spent.wallSeconds) * 100;

/** The split as row fields, seconds to 2 decimals: { gateways: 1.2 } → { <prefix>GatewaysSeconds: 1.2 }, plus `other`. */
export function cpuFields(prefix: string, spent: CpuSpent): Record<string, number | null> {
  const round = (s: number | undefined) => (s === undefined ? null : Math.round(s * 100) / 100);
  const split = { ...spent.groups, other: othersSeconds(spent) };
  return Object.fromEntries(Object.entries(split).map(([role, s]) => [`${prefix}${role[0].toUpperCase()}${role.slice(1)}Seconds`, round(s)]));
}

/** `gateways 3.1 s, clients 1.2 s, …` for a progress line. */
export function describeCpu(spent: CpuSpent): string {
  return Object.entries({ ...spent.groups, other: othersSeconds(spent) })
    .map(([role, s]) => `${role} ${s === undefined ? '-' : s.toFixed(1)} s`)
    .join(', ');
}
