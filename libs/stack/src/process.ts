import type { ChildProcess } from 'node:child_process';

/** What runs when this process exits (atExit), in the order added. */
const exitHooks = new Set<() => void>();
let exitListening = false;

/**
 * Run `hook` when this process exits, e.g. kill a child so that a test or bench that dies leaves
 * none behind; returns the hook's removal (call it once the child is gone). One 'exit' listener
 * serves every hook: a bench with five gateways and its workers would otherwise pass Node's bound
 * of ten listeners and print a MaxListenersExceededWarning.
 */
export function atExit(hook: () => void): () => void {
  if (!exitListening) {
    exitListening = true;
    process.on('exit', () => {
      for (const run of exitHooks) run();
    });
  }
  exitHooks.add(hook);
  return () => void exitHooks.delete(hook);
}

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
