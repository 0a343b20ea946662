/**
 * At start, what an earlier run of the launcher with the same state directory left: it is found
 * through that run's `dev-run.json` (each process checked to be the one recorded before it is
 * stopped) and the embedded Postgres' postmaster.pid, stopped, and reported. A launcher that
 * still runs on the same state directory is not a leftover: starting a second one is refused.
 */
import { unlinkSync } from 'node:fs';
import { removeDevStackFile } from '@herald/config';
import { portFree, REPO_ROOT } from '@herald/stack';
import { portOwner } from './port-owner';
import { isRunning, parentOf } from './proc';
import { foreignConsumerOf, label, postmasterOf, STOP_GRACE_MS, stopProcesses } from './reap';
import { readRunRecord, removeRunRecord } from './run-record';

/** How long an earlier run's watchdog may take to finish its own clean-up before we do it. */
const WATCHDOG_WAIT_MS = STOP_GRACE_MS + 5_000;

export class DevStackInUseError extends Error {}

/**
 * Stops what an earlier launcher left in `stateDir` (and a Postgres left on `postgresDir`);
 * resolves with one line per thing done, for the launcher to print. Throws DevStackInUseError when
 * an earlier launcher, or a consumer of its own, still uses them.
 */
export async function reclaimLeftovers(stateDir: string, postgresDir: string | undefined): Promise<string[]> {
  const said: string[] = [];
  const record = readRunRecord(stateDir);
  if (record && isRunning(record.launcher)) {
    throw new DevStackInUseError(
      `npm run dev is already running (pid ${record.launcher.pid}) with its state in ${stateDir}; stop it first, ` +
        'or give this one another HERALD_DEV_DIR and ports (HERALD_DEV_*_PORT, EMBEDDED_PG_PORT)',
    );
  }
  if (record) {
    // Its watchdog may be stopping them right now: let it finish, then take what is left.
    const deadline = Date.now() + WATCHDOG_WAIT_MS;
    while (isRunning(record.watchdog) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const stopped = await stopProcesses([...record.processes, record.watchdog], STOP_GRACE_MS);
    if (stopped.length > 0) {
      said.push(`stopped ${stopped.length} processes left by an earlier npm run dev (pid ${record.launcher.pid}): ${stopped.map(label).join(', ')}`);
    }
    removeDevStackFile(stateDir, record.launcher.pid);
    removeRunRecord(stateDir, record.launcher.pid);
  }
  const postmaster = postgresDir ? postmasterOf(postgresDir) : undefined;
  if (postmaster?.running) {
    const consumer = foreignConsumerOf(postmaster.running, []);
    // A consumer adopted by init lost its launcher (one that kept no record, as before dev-run.json).
    if (consumer && parentOf(consumer.pid)?.pid === 1) {
      await stopProcesses([consumer], STOP_GRACE_MS);
      said.push(`stopped an orphaned exposure-consumer (pid ${consumer.pid}) that ran the Postgres on ${postgresDir}`);
    } else if (consumer) {
      throw new DevStackInUseError(
        `the embedded Postgres in ${postgresDir} is in use by an exposure-consumer (pid ${consumer.pid}) this launcher did not start; ` +
          'stop it first, or set EMBEDDED_PG_DIR elsewhere',
      );
    }
    if ((await stopProcesses([postmaster.running], STOP_GRACE_MS)).length > 0) said.push(`stopped a Postgres left running on ${postgresDir} (pid ${postmaster.pid})`);
  } else if (postmaster) {
    // Its pid is gone or is another program now; Postgres would refuse to start while that pid lives.
    unlinkSync(postmaster.pidFile);
    said.push(`removed a stale ${postmaster.pidFile} (pid ${postmaster.pid} is not a Postgres on it)`);
  }
  return said;
}

/** A port the launcher is about to give an app, and the setting that chooses it. */
export interface AppPort {
  port: number;
  setting: string;
}

/**
 * Makes sure each port is free: a Herald app of this checkout that lost its launcher (adopted by
 * init, as one left by a launcher that kept no record) is stopped, anything else is refused with
 * the setting to change. Without this a leftover app would answer the new one's readiness probe.
 */
/** An app of this checkout, run from its sources (tsx) or from its bundle (dist/, npm run dev). */
function isHeraldApp(command: string): boolean {
  return command.includes(`${REPO_ROOT}/apps/`) || command.includes(`${REPO_ROOT}/dist/apps/`);
}

export async function reclaimPorts(ports: AppPort[]): Promise<string[]> {
  const said: string[] = [];
  for (const { port, setting } of ports) {
    if (await portFree(port)) continue;
    const owner = portOwner(port);
    const orphanedApp = owner && isHeraldApp(owner.command) && parentOf(owner.pid)?.pid === 1;
    if (!orphanedApp) {
      throw new DevStackInUseError(
        `port ${port} is in use${owner ? ` by ${label(owner)}: ${owner.command.slice(0, 120)}` : ''}; stop it, or set ${setting} to another port`,
      );
    }
    await stopProcesses([owner], STOP_GRACE_MS);
    said.push(`stopped ${label(owner)}, left running on port ${port} by an earlier npm run dev`);
  }
  return said;
}
