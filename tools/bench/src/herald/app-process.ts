/**
 * One Herald app as a child process, started the way the product runs it
 * (`node --import tsx apps/<app>/src/main.ts`), ready when its /readyz answers 200. Its output is
 * kept (the last lines, to explain a failure) and not printed.
 */
import { readFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, stopProcess } from '@herald/testing';

const REPO_ROOT = resolve(__dirname, '..', '..', '..', '..');
const RECENT_LINES = 30;
const READY_TIMEOUT_MS = 60_000;
const READY_POLL_MS = 100;

export type AppName = 'gateway' | 'ingest' | 'exposure-consumer';

export interface AppProcess {
  name: AppName;
  /** http://127.0.0.1:<port> */
  url: string;
  pid: number;
  /** The last lines it printed. */
  recentOutput(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; a no-op once it has exited. */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Node flags an app runs with in production: the NODE_OPTIONS its image sets
 * (apps/<app>/Dockerfile), so the bench measures what ships. The gateway's keeps the young
 * generation small (docs/BENCHMARKS.md, idle memory).
 */
export function productionNodeFlags(name: AppName): string[] {
  const dockerfile = readFileSync(join(REPO_ROOT, 'apps', name, 'Dockerfile'), 'utf8');
  const value = /^ENV NODE_OPTIONS=(?:"([^"]*)"|(\S+))\s*$/m.exec(dockerfile);
  return (value?.[1] ?? value?.[2] ?? '').split(/\s+/).filter(Boolean);
}
/**
 * Extra node flags for the apps a bench starts, space-separated, e.g. `--cpu-prof
 * --cpu-prof-dir=/tmp/prof` or `--heapsnapshot-signal=SIGUSR2` (docs/BENCHMARKS.md, "Profiling").
 */
export const APP_NODE_FLAGS: string[] = (process.env.HERALD_BENCH_APP_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
/**
 * Config overrides for every app a bench starts, as `NAME=value` words separated by spaces (e.g.
 * `EXPOSURE_BUFFER_MAX=50000`); they win over the scenario's own settings. For trying a setting
 * before making it a default; the results file records them.
 */
export const APP_ENV_OVERRIDES: Record<string, string> = parseOverrides(process.env.HERALD_BENCH_APP_ENV ?? '');

function parseOverrides(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const eq = word.indexOf('=');
    if (eq <= 0) throw new Error(`HERALD_BENCH_APP_ENV: "${word}" is not NAME=value`);
    env[word.slice(0, eq)] = word.slice(eq + 1);
  }
  return env;
}

/** Start `name` on a free loopback port with exactly `env` (plus PATH, HOME and APP_ENV_OVERRIDES). */
export async function startApp(name: AppName, env: Record<string, string>, signal?: AbortSignal): Promise<AppProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [...productionNodeFlags(name), ...APP_NODE_FLAGS, '--import', 'tsx', join(REPO_ROOT, 'apps', name, 'src', 'main.ts')], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...env,
      ...APP_ENV_OVERRIDES,
      HOST: '127.0.0.1',
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A bench that dies must not leave apps behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  const recent: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      recent.push(line);
      if (recent.length > RECENT_LINES) recent.shift();
    });
  }
  const app: AppProcess = {
    name,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid as number,
    recentOutput: () => recent.join('\n'),
    stop: (graceMs = 15_000) => stopProcess(child, graceMs),
  };
  try {
    await untilReady(app, child, signal);
  } catch (err) {
    await app.stop(1000);
    throw err;
  }
  return app;
}

async function untilReady(app: AppProcess, child: ChildProcess, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    signal?.throwIfAborted();
    if (child.exitCode !== null) {
      throw new Error(`${app.name} exited with code ${child.exitCode} before it was ready; its last output:\n${app.recentOutput()}`);
    }
    try {
      if ((await fetch(`${app.url}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(`${app.name} was not ready at ${app.url}/readyz in ${READY_TIMEOUT_MS} ms; its last output:\n${app.recentOutput()}`);
    }
    await new Promise((r) => setTimeout(r, READY_POLL_MS));
  }
}
