/**
 * Process lifecycle shared by every app: on SIGTERM/SIGINT run the service's `close()` under a
 * deadline, then exit (0 when it closed cleanly, 1 otherwise). A second signal exits at once.
 */
import type { Logger } from '@herald/logger';

export interface Closable {
  close(): Promise<void>;
}

export function exitOnSignals(service: Closable, logger: Logger, timeoutMs: number): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal, exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown deadline passed, exiting');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    service.close().then(
      () => {
        logger.info('stopped');
        logger.flush?.();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** Run every step even when one fails; throw the first failure afterwards. */
export async function runAll(steps: Array<() => Promise<unknown> | unknown>): Promise<void> {
  let first: unknown;
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      first ??= err;
    }
  }
  if (first) throw first;
}
