/**
 * Load-generating work in child processes (client sockets, the producer), so it has CPU of its
 * own and never shares an event loop with the bench. The bench forks a TypeScript file with an
 * IPC channel and sends it requests; the child answers each one (`serveRequests`). A child whose
 * parent goes away exits, so a bench that dies leaves no load behind.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { stopProcess } from '@herald/testing';

const REPO_ROOT = resolve(__dirname, '..', '..', '..', '..', '..');
const RECENT_LINES = 20;

interface Envelope {
  id: number;
  body: unknown;
}

type Reply = { id: number; ok: true; body: unknown } | { id: number; ok: false; error: string };

export class WorkerError extends Error {
  readonly code = 'BENCH_WORKER_FAILED';
}

export interface Worker {
  name: string;
  pid: number;
  /** Send a request; resolves with the child's answer, rejects with its error or its exit. */
  request<T>(body: unknown, timeoutMs?: number): Promise<T>;
  recentOutput(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; a no-op once it has exited. */
  stop(graceMs?: number): Promise<number | null>;
}

/** Fork `file` (a .ts file that calls `serveRequests`) as `node --import tsx <file>`. */
export function forkWorker(file: string, name: string): Worker {
  const child: ChildProcess = fork(file, [], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const recent: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      recent.push(line);
      if (recent.length > RECENT_LINES) recent.shift();
    });
  }
  const recentOutput = () => recent.join('\n');
  const pending = new Map<number, { resolve(body: unknown): void; reject(err: Error): void }>();
  let nextId = 1;
  child.on('message', (reply: Reply) => {
    const waiter = pending.get(reply.id);
    if (!waiter) return;
    pending.delete(reply.id);
    if (reply.ok) waiter.resolve(reply.body);
    else waiter.reject(new WorkerError(`${name}: ${reply.error}`));
  });
  child.once('exit', (code, sig) => {
    process.removeListener('exit', killOnExit);
    const err = new WorkerError(`${name} exited (${sig ?? `code ${code}`}); its last output:\n${recentOutput()}`);
    for (const waiter of pending.values()) waiter.reject(err);
    pending.clear();
  });

  return {
    name,
    pid: child.pid as number,
    request<T>(body: unknown, timeoutMs = 120_000): Promise<T> {
      if (child.exitCode !== null || child.signalCode !== null || !child.connected) {
        return Promise.reject(new WorkerError(`${name} is not running; its last output:\n${recentOutput()}`));
      }
      const id = nextId++;
      return new Promise<T>((resolvePromise, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new WorkerError(`${name} did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (value) => {
            clearTimeout(timer);
            resolvePromise(value as T);
          },
          reject: (err) => {
            clearTimeout(timer);
            reject(err);
          },
        });
        child.send({ id, body } satisfies Envelope);
      });
    },
    recentOutput,
    stop: (graceMs = 5000) => stopProcess(child, graceMs),
  };
}

/** In the child: answer every request with `handle` (one at a time, in arrival order). */
export function serveRequests(handle: (body: unknown) => Promise<unknown>): void {
  let chain: Promise<void> = Promise.resolve();
  process.on('message', (envelope: Envelope) => {
    chain = chain.then(async () => {
      let reply: Reply;
      try {
        reply = { id: envelope.id, ok: true, body: await handle(envelope.body) };
      } catch (err) {
        reply = { id: envelope.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
      }
      process.send?.(reply);
    });
  });
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}
