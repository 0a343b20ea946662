/**
 * Where the machine's CPU went during a phase, by role (gateways, load clients, Redis, the
 * emulator, the bench itself), from /proc: on a 2-core box the load generator competes with
 * what it measures, and the split says by how much. `other` is everything else the machine ran.
 */
import { cpuSecondsOf, machineProcessSeconds } from '../herald/proc-cpu';

export type CpuRoles = Record<string, readonly number[]>;

/** CPU seconds per role from now until stop(); null where /proc could not tell. */
export function measureCpu(roles: CpuRoles): { stop(): Record<string, number | null> } {
  const start = snapshot(roles);
  return {
    stop() {
      const end = snapshot(roles);
      const split: Record<string, number | null> = {};
      let ours = 0;
      for (const role of Object.keys(roles)) {
        const [a, b] = [start.roles[role], end.roles[role]];
        split[role] = a === undefined || b === undefined ? null : round(b - a);
        ours += split[role] ?? 0;
      }
      split.other = start.machine === undefined || end.machine === undefined ? null : round(Math.max(0, end.machine - start.machine - ours));
      return split;
    },
  };
}

function snapshot(roles: CpuRoles): { roles: Record<string, number | undefined>; machine: number | undefined } {
  const out: Record<string, number | undefined> = {};
  for (const [role, pids] of Object.entries(roles)) out[role] = pids.length === 0 ? undefined : cpuSecondsOf(pids);
  return { roles: out, machine: machineProcessSeconds() };
}

const round = (seconds: number) => Math.round(seconds * 100) / 100;
