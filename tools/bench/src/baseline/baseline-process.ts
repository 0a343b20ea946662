/**
 * The baseline server (server.ts) as a child process, started like the apps
 * (`node --import tsx …`), ready once it prints its port. Its output is kept (the last lines, to
 * explain a failure) and not printed.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { stopProcess } from '@herald/testing';
import { READY_LINE_PREFIX } from './server';

const REPO_ROOT = resolve(__dirname, '..', '..', '..', '..');
const SERVER_MAIN = join(__dirname, 'server.ts');
const READY_TIMEOUT_MS = 30_000;
const RECENT_LINES = 30;

export interface BaselineProcess {
  /** ws://127.0.0.1:<port> */
  wsUrl: string;
  pid: number;
  recentOutput(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; a no-op once it has exited. */
  stop(graceMs?: number): Promise<number | null>;
}

export async function startBaseline(redisUrl: string, signal?: AbortSignal): Promise<BaselineProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER_MAIN], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', REDIS_URL: redisUrl, HOST: '127.0.0.1', PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  const recent: string[] = [];
  let port: number | undefined;
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      if (port === undefined && line.startsWith(READY_LINE_PREFIX)) port = Number(line.slice(READY_LINE_PREFIX.length));
      recent.push(line);
      if (recent.length > RECENT_LINES) recent.shift();
    });
  }
  const server: BaselineProcess = {
    wsUrl: '',
    pid: child.pid as number,
    recentOutput: () => recent.join('\n'),
    stop: (graceMs = 5000) => stopProcess(child, graceMs),
  };
  try {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (port === undefined) {
      signal?.throwIfAborted();
      if (child.exitCode !== null) throw new Error(`the baseline server exited with code ${child.exitCode}; its last output:\n${server.recentOutput()}`);
      if (Date.now() > deadline) throw new Error(`the baseline server did not start in ${READY_TIMEOUT_MS} ms; its last output:\n${server.recentOutput()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (err) {
    await server.stop(1000);
    throw err;
  }
  return { ...server, wsUrl: `ws://127.0.0.1:${port}` };
}
