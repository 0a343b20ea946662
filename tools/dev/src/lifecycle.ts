/**
 * How the dev launcher ends. Every way is turned into one shutdown: SIGINT (Ctrl-C), SIGTERM,
 * SIGHUP (the terminal closed), stdout or stderr gone (EPIPE: the reader of a pipe ended), the
 * process that started it gone, one of its apps exiting on its own. A second signal exits at
 * once; so does any end while the stack is still starting. Whatever the launcher does not stop
 * itself (and everything, after a SIGKILL) its watchdog stops (watchdog.ts).
 */
import type { Stack } from '@herald/stack';

/** The whole stack gets this long to stop. */
const STOP_TIMEOUT_MS = 60_000;
/** How often the launcher checks that the process that started it is still there. */
const PARENT_POLL_MS = 1_000;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export interface Lifecycle {
  /** Writes to stdout (stderr once stdout is gone); never throws. */
  say(text: string): void;
  /** The stack is up: from now on a shutdown stops it (and an app that exits is a reason to). */
  running(stack: Stack, stop: () => Promise<void>): void;
}

export function watchLifecycle(): Lifecycle {
  const open = new Set<NodeJS.WriteStream>([process.stdout, process.stderr]);
  let up: { stack: Stack; stop: () => Promise<void> } | undefined;
  let stopping = false;
  // To stdout; to stderr once stdout is gone (a reason to stop worth telling); else nowhere.
  const say = (text: string) => {
    const stream = [process.stdout, process.stderr].find((s) => open.has(s));
    stream?.write(text);
  };
  const shutdown = (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    say(`\n[dev] ${reason}: stopping everything\n`);
    if (!up) process.exit(code); // still starting: the watchdog stops what was started
    const timer = setTimeout(() => {
      say(`[dev] the stack did not stop in ${STOP_TIMEOUT_MS} ms; exiting (the watchdog stops the rest)\n`);
      process.exit(1);
    }, STOP_TIMEOUT_MS);
    timer.unref();
    up.stop().then(
      () => process.exit(code),
      (err: unknown) => {
        say(`[dev] stopping failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  for (const signal of SIGNALS) {
    process.on(signal, () => {
      if (stopping) {
        say(`[dev] ${signal} again: exiting now (the watchdog stops the rest)\n`);
        process.exit(1);
      }
      shutdown(signal, 0);
    });
  }
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      open.delete(stream);
      shutdown(`output is gone (${err.code ?? err.message})`, 0);
    });
  }
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) shutdown(`the process that started it (pid ${parent}) is gone`, 0);
  }, PARENT_POLL_MS).unref();
  return {
    say,
    running(stack, stop) {
      up = { stack, stop };
      const apps = [...stack.gateways, stack.apps.ingest, stack.apps['exposure-consumer']].filter(Boolean);
      for (const app of apps) {
        const exited = (code: number | null, signal: NodeJS.Signals | null) =>
          shutdown(`${app.name} (pid ${app.pid}) exited (${signal ?? `code ${code}`})`, 1);
        if (app.child.exitCode !== null || app.child.signalCode !== null) exited(app.child.exitCode, app.child.signalCode);
        else app.child.once('exit', exited);
      }
    },
  };
}
