/**
 * CPU time spent over a window, per group of processes (the server, Redis, the load generators,
 * …) and by the whole machine, from /proc. On a 2-core box everything shares the CPU, so the
 * groups say who had it.
 */
import { performance } from 'node:perf_hooks';
import { cpuSecondsOf, machineProcessSeconds } from '../../herald/proc-cpu';

export interface CpuSpent {
  wallSeconds: number;
  /** CPU seconds per group; undefined when /proc could not tell (or the group is empty). */
  groups: Record<string, number | undefined>;
  /** CPU seconds of every process on the machine, all cores. */
  machine: number | undefined;
}

export function startCpuWindow(groups: Record<string, readonly number[]>): { stop(): CpuSpent } {
  const started = performance.now();
  const before = Object.fromEntries(Object.entries(groups).map(([name, pids]) => [name, cpuSecondsOf(pids)]));
  const machineBefore = machineProcessSeconds();
  return {
    stop() {
      const spent: CpuSpent = { wallSeconds: (performance.now() - started) / 1000, groups: {}, machine: undefined };
      for (const [name, pids] of Object.entries(groups)) {
        const now = cpuSecondsOf(pids);
        const then = before[name];
        spent.groups[name] = now === undefined || then === undefined ? undefined : now - then;
      }
      const machineNow = machineProcessSeconds();
      if (machineNow !== undefined && machineBefore !== undefined) spent.machine = machineNow - machineBefore;
      return spent;
    },
  };
}

/**
 * CPU seconds the machine spent outside every group: someone else's work competing with the
 * measurement (another bench, a build). Undefined when /proc could not tell.
 */
export function otherSeconds(spent: CpuSpent): number | undefined {
  if (spent.machine === undefined) return undefined;
  let ours = 0;
  for (const seconds of Object.values(spent.groups)) ours += seconds ?? 0;
  return Math.max(0, spent.machine - ours);
}

/** CPU seconds as a percentage of one core over the window (200 = both cores of a 2-core box). */
export function cpuPct(seconds: number | undefined, spent: CpuSpent): number | null {
  return seconds === undefined ? null : (seconds / spent.wallSeconds) * 100;
}
