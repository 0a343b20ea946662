/**
 * The one /proc sampler: CPU time and memory of processes, of process trees and of the whole
 * machine, from Linux's /proc; elsewhere `undefined` rather than a wrong number. On a 2-core box
 * the load generators share the CPU with what they measure: a CPU window says who had it.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** `read()`, or `otherwise` where it throws: not Linux, a process gone (or not ours to read). */
function orElse<T>(read: () => T, otherwise: T): T {
  try {
    return read();
  } catch {
    return otherwise;
  }
}

/** Clock ticks per second, the unit of /proc's CPU times. */
const TICKS = orElse(() => Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100, 100);

const read = (path: string): string | undefined => orElse(() => readFileSync(path, 'utf8'), undefined);

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces): state, ppid, …; utime is [11]. */
function statFields(pid: number): string[] | undefined {
  const stat = read(`/proc/${pid}/stat`);
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
}

const allPids = (): number[] => orElse(() => readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number), []);

const cmdline = (pid: number): string[] => read(`/proc/${pid}/cmdline`)?.split('\0') ?? [];

/** Pids with `arg` among their command-line arguments (e.g. the emulator's `--port=NNNN`). */
export const findPids = (arg: string): number[] => allPids().filter((pid) => cmdline(pid).includes(arg));

export const withCommand = (pids: readonly number[], text: string): number[] => pids.filter((pid) => cmdline(pid).join(' ').includes(text));

/** Undefined when /proc cannot tell (or no pid). */
function cpuSecondsOf(pids: readonly number[]): number | undefined {
  const all = pids.map(statFields);
  if (all.length === 0 || all.includes(undefined)) return undefined;
  return all.reduce((ticks, f) => ticks + Number(f![11]) + Number(f![12]), 0) / TICKS;
}

export function processTree(roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const parent = Number(statFields(pid)?.[1]);
    children.set(parent, [...(children.get(parent) ?? []), pid]);
  }
  const tree = new Set<number>();
  const visit = (pid: number): void => void (tree.has(pid) || (tree.add(pid), (children.get(pid) ?? []).forEach(visit)));
  roots.forEach(visit);
  return [...tree];
}

/**
 * User + system CPU seconds of `roots` and their descendants, reaped children included (cutime,
 * cstime), so two readings' difference holds short-lived workers too (Postgres backends).
 */
export function treeCpuSecondsOf(roots: readonly number[]): number | undefined {
  const alive = processTree(roots).map(statFields).filter((f): f is string[] => f !== undefined);
  if (alive.length === 0) return undefined;
  return alive.reduce((ticks, f) => ticks + Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]), 0) / TICKS;
}

/** CPU seconds all processes of the machine ran (user + nice + system of /proc/stat; interrupts are no process's). */
function machineSeconds(): number | undefined {
  const [user, nice, system] = read('/proc/stat')?.split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number) ?? [];
  return user === undefined ? undefined : (user + nice + system) / TICKS;
}

/** VmRSS now and VmHWM (the peak the process ever reached), in bytes. */
export function procMemory(pid: number): { rssBytes: number; peakRssBytes: number } | undefined {
  const status = read(`/proc/${pid}/status`);
  const kB = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status ?? '')?.[1] ?? NaN) * 1024;
  const [rssBytes, peakRssBytes] = [kB('VmRSS'), kB('VmHWM')];
  return Number.isNaN(rssBytes) || Number.isNaN(peakRssBytes) ? undefined : { rssBytes, peakRssBytes };
}

/** A group's CPU seconds: its pids, or a reader (e.g. a process tree's). */
export type CpuGroup = readonly number[] | (() => number | undefined);

/** Per group, undefined when /proc could not tell (or the group is empty). */
export interface CpuSpent {
  wallSeconds: number;
  groups: Record<string, number | undefined>;
  machine: number | undefined;
}

export function cpuWindow(groups: Record<string, CpuGroup>): { stop(): CpuSpent } {
  const read = (group: CpuGroup) => (typeof group === 'function' ? group() : cpuSecondsOf(group));
  const since = (before: number | undefined, now: number | undefined) => (now === undefined || before === undefined ? undefined : now - before);
  const started = performance.now();
  const before = Object.fromEntries(Object.entries(groups).map(([name, group]) => [name, read(group)]));
  const machineBefore = machineSeconds();
  return {
    stop: () => ({
      wallSeconds: (performance.now() - started) / 1000,
      groups: Object.fromEntries(Object.entries(groups).map(([name, group]) => [name, since(before[name], read(group))])),
      machine: since(machineBefore, machineSeconds()),
    }),
  };
}

/** CPU seconds the machine spent outside every group (or the groups named in `ours`): someone else's work. */
export function othersSeconds(spent: CpuSpent, ours?: readonly string[]): number | undefined {
  const names = ours ?? Object.keys(spent.groups);
  if (spent.machine === undefined || (ours && names.some((name) => spent.groups[name] === undefined))) return undefined;
  return Math.max(0, spent.machine - names.reduce((sum, name) => sum + (spent.groups[name] ?? 0), 0));
}

/** CPU seconds as a percentage of one core over the window (200 = both cores of a 2-core box). */
export const cpuPct = (seconds: number | undefined, spent: CpuSpent): number | null => (seconds === undefined ? null : (seconds / spent.wallSeconds) * 100);

/** CPU µs per item (message, member, event, …); null when /proc could not tell or there is none. */
export const cpuUsPer = (seconds: number | undefined, count: number): number | null => (seconds === undefined || count === 0 ? null : (seconds * 1e6) / count);

const split = (spent: CpuSpent) => Object.entries({ ...spent.groups, other: othersSeconds(spent) });

/** The split as row fields, seconds to 2 decimals: { gateways: 1.234 } → { <prefix>GatewaysSeconds: 1.23 }. */
export const cpuFields = (prefix: string, spent: CpuSpent): Record<string, number | null> =>
  Object.fromEntries(split(spent).map(([role, s]) => [`${prefix}${role[0].toUpperCase()}${role.slice(1)}Seconds`, s === undefined ? null : Math.round(s * 100) / 100]));

/** `gateways 3.1 s, clients 1.2 s, …` for a progress line. */
export const describeCpu = (spent: CpuSpent): string => split(spent).map(([role, s]) => `${role} ${s === undefined ? '-' : s.toFixed(1)} s`).join(', ');
