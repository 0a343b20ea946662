/**
 * Stopping what a dev launcher started: each process only while it is still the process that was
 * seen (same pid, same start time), and the embedded Postgres by its postmaster.pid.
 */
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { isRunning, parentOf, processId, type ProcessId } from './proc';

const POLL_MS = 100;
/** SIGTERM first; SIGKILL what still runs after this long. */
export const STOP_GRACE_MS = 3_000;
/** After SIGKILL the kernel needs a moment to take a process away. */
const KILL_WAIT_MS = 2_000;

/** `gateway (pid 12)`, `redis-server (pid 13)`, `postgres (pid 14)`: for what the launcher says. */
export function label(proc: ProcessId): string {
  const app = /apps\/([\w-]+)\/src\/main\.ts/.exec(proc.command)?.[1];
  const name = app ?? (/pubsub-emulator/.test(proc.command) ? 'pubsub-emulator' : basename(proc.command.split(' ')[0] || '?'));
  return `${name} (pid ${proc.pid})`;
}

async function until(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return true;
}

function signal(proc: ProcessId, sig: NodeJS.Signals): void {
  if (!isRunning(proc)) return;
  try {
    process.kill(proc.pid, sig);
  } catch {
    // ended meanwhile
  }
}

/** A postmaster: SIGINT is its fast shutdown (clients cut off, checkpoint written); SIGTERM would wait for clients. */
function isPostmaster(proc: ProcessId): boolean {
  return /(^|\/)postgres -D /.test(proc.command);
}

/**
 * Stops every process in `procs` that still runs: SIGTERM (a postmaster SIGINT, a paused one
 * SIGCONT too), then SIGKILL what is left after `graceMs`. Resolves with those that were running.
 */
export async function stopProcesses(procs: ProcessId[], graceMs: number): Promise<ProcessId[]> {
  const running = procs.filter(isRunning);
  for (const proc of running) {
    signal(proc, isPostmaster(proc) ? 'SIGINT' : 'SIGTERM');
    signal(proc, 'SIGCONT');
  }
  const gone = () => running.every((p) => !isRunning(p));
  if (!(await until(gone, graceMs))) {
    for (const proc of running) signal(proc, 'SIGKILL');
    await until(gone, KILL_WAIT_MS);
  }
  return running;
}

export interface Postmaster {
  /** `<dataDir>/postmaster.pid` */
  pidFile: string;
  pid: number;
  /** The running Postgres on this data directory, when the pid is one (else the file is stale). */
  running?: ProcessId;
}

/** What `<dataDir>/postmaster.pid` says, and whether that Postgres still runs on this directory. */
export function postmasterOf(dataDir: string): Postmaster | undefined {
  const pidFile = join(dataDir, 'postmaster.pid');
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
  const proc = Number.isInteger(pid) && pid > 0 ? processId(pid) : undefined;
  const onThisDir = proc && isPostmaster(proc) && proc.command.includes(`-D ${resolve(dataDir)}`);
  return { pidFile, pid, running: onThisDir ? proc : undefined };
}

/**
 * The exposure-consumer that runs this Postgres, when it is not one of `ours` (a consumer started
 * on its own with the same EMBEDDED_PG_DIR): that Postgres is in use and is not ours to stop.
 */
export function foreignConsumerOf(postgres: ProcessId, ours: ProcessId[]): ProcessId | undefined {
  const parent = parentOf(postgres.pid);
  if (!parent || !parent.command.includes('exposure-consumer')) return undefined;
  return ours.some((p) => p.pid === parent.pid && p.start === parent.start) ? undefined : parent;
}
