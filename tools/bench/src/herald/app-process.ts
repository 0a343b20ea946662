/**
 * One Herald app as a child process, started the way the product runs it
 * (`node --import tsx apps/<app>/src/main.ts`), ready when its /readyz answers 200. Its output is
 * kept (the last lines, to explain a failure) and not printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, stopProcess } from '@herald/testing';

const REPO_ROOT = resolve(__dirname, '..', '..', '..', '..');
const RECENT_LINES = 30;
const READY_TIMEOUT_MS = 60_000;
const READY_POLL_MS = 100;

export type AppName = 'gateway' | 'ingest';

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

/** Start `name` on a free loopback port with exactly `env` (plus PATH and HOME). */
export async function startApp(name: AppName, env: Record<string, string>, signal?: AbortSignal): Promise<AppProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'apps', name, 'src', 'main.ts')], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, HOST: '127.0.0.1', PORT: String(port) },
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
