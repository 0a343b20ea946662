import type { ChildProcess } from 'node:child_process';

/**
 * SIGTERM, then SIGKILL after a deadline; resolves with the exit code (null when killed by a
 * signal) once the process is gone. Stopping a process that has exited is a no-op.
 */
export function stopProcess(child: ChildProcess, graceMs = 5000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.kill('SIGTERM');
  });
}

/**
 * Runs async operations one at a time, in call order (start/stop/restart of a test server); a
 * failed one does not stop the ones after it.
 */
export function serialQueue(): (op: () => Promise<void>) => Promise<void> {
  let queue: Promise<unknown> = Promise.resolve();
  return (op) => {
    const next = queue.then(op);
    queue = next.catch(() => undefined);
    return next;
  };
}
