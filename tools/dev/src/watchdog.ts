/**
 * The dev launcher's watchdog, a process of its own:
 *
 *   node --import tsx tools/dev/src/watchdog.ts <stateDir> <launcherPid> [<postgresDir>]
 *
 * The launcher starts it detached (its own session: neither Ctrl-C nor a closed terminal reaches
 * it). While the launcher runs, it notes every process the launcher started (and those started,
 * such as the consumer's Postgres) in `dev-run.json`. Once the launcher is gone, however it ended
 * (a SIGKILL included), it stops each of them that still runs, with the Postgres named by
 * postmaster.pid, removes the launcher's files and exits: nothing outlives the launcher for more
 * than the poll interval plus STOP_GRACE_MS.
 */
import { removeDevStackFile } from '@herald/config';
import { descendantsOf, isRunning, processId, type ProcessId } from './proc';
import { foreignConsumerOf, postmasterOf, STOP_GRACE_MS, stopProcesses } from './reap';
import { removeRunRecord, writeRunRecord } from './run-record';

const POLL_MS = 250;

const [stateDir, launcherPid, postgresDir] = process.argv.slice(2);
const launcher = processId(Number(launcherPid));
const self = processId(process.pid) as ProcessId;
const seen = new Map<string, ProcessId>();
const key = (p: ProcessId) => `${p.pid}:${p.start}`;

function record(): void {
  writeRunRecord(stateDir, { launcher: launcher as ProcessId, watchdog: self, postgresDir, processes: [...seen.values()] });
}

/** Notes what the launcher runs now and forgets what ended; true when that changed anything. */
function look(): boolean {
  let changed = false;
  for (const proc of descendantsOf((launcher as ProcessId).pid, process.pid)) {
    if (seen.has(key(proc))) continue;
    seen.set(key(proc), proc);
    changed = true;
  }
  for (const [k, proc] of seen) {
    if (!isRunning(proc)) {
      seen.delete(k);
      changed = true;
    }
  }
  return changed;
}

async function cleanUp(): Promise<void> {
  const procs = [...seen.values()];
  // A Postgres started in the last moments before the launcher ended was not seen yet.
  const postmaster = postgresDir ? postmasterOf(postgresDir) : undefined;
  if (postmaster?.running && !seen.has(key(postmaster.running)) && !foreignConsumerOf(postmaster.running, procs)) {
    procs.push(postmaster.running);
  }
  await stopProcesses(procs, STOP_GRACE_MS);
  removeDevStackFile(stateDir, (launcher as ProcessId).pid);
  removeRunRecord(stateDir, (launcher as ProcessId).pid);
}

function main(): void {
  if (!stateDir || !launcher) {
    process.stderr.write('usage: watchdog.ts <stateDir> <launcherPid> [<postgresDir>] (the launcher must be running)\n');
    process.exit(2);
  }
  look();
  record();
  const timer = setInterval(() => {
    if (isRunning(launcher)) {
      if (look()) record();
      return;
    }
    clearInterval(timer);
    cleanUp().finally(() => process.exit(0));
  }, POLL_MS);
}

main();
