/**
 * One Herald app as a child process (`node --import tsx apps/<app>/src/main.ts`), its output
 * passed through with a name prefix, ready when its /readyz answers 200.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { stopProcess } from '@herald/testing';

export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

export type AppName = 'gateway' | 'ingest' | 'exposure-consumer';

export interface AppProcess {
  name: AppName;
  url: string;
  child: ChildProcess;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null when killed). */
  stop(graceMs?: number): Promise<number | null>;
}

export interface StartAppOptions {
  name: AppName;
  port: number;
  env: NodeJS.ProcessEnv;
  /** Receives each output line; defaults to printing it with the app's name in front. */
  onLine?: (name: AppName, line: string) => void;
  readyTimeoutMs?: number;
}

/** Output lines kept to explain a failed start. */
const RECENT_LINES = 30;

const printLine = (name: AppName, line: string) => process.stdout.write(`[${name}] ${line}\n`);

export async function startApp(opts: StartAppOptions): Promise<AppProcess> {
  const onLine = opts.onLine ?? printLine;
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'apps', opts.name, 'src', 'main.ts')], {
    cwd: REPO_ROOT,
    env: { ...opts.env, PORT: String(opts.port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const recent: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      recent.push(line);
      if (recent.length > RECENT_LINES) recent.shift();
      onLine(opts.name, line);
    });
  }
  const failure = (what: string) => new Error(`${opts.name} ${what}; its last output:\n${recent.join('\n')}`);
  const host = opts.env.HOST && opts.env.HOST !== '0.0.0.0' ? opts.env.HOST : '127.0.0.1';
  const url = `http://${host}:${opts.port}`;
  const app: AppProcess = {
    name: opts.name,
    url,
    child,
    stop: (graceMs = 15_000) => stopProcess(child, graceMs),
  };
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw failure(`exited with code ${child.exitCode} before it was ready`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return app;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await app.stop(1000);
      throw failure(`was not ready at ${url}/readyz in time`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
