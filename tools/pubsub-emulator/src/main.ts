/**
 * CLI: `node --import tsx tools/pubsub-emulator/src/main.ts --host=127.0.0.1 --port=8085`
 * Prints exactly one line, `pubsub-emulator listening on <host:port>`, once it
 * accepts connections (test helpers wait for it), and exits 0 on SIGTERM/SIGINT.
 */
import { createLogger } from '@herald/logger';
import { exitOnSignals } from '@herald/http';
import { DEFAULT_HOST, startEmulator } from './server';

/** Port Google's emulator uses by default, so tooling defaults line up. */
const DEFAULT_PORT = 8085;
/** How long a stop may take before the process exits anyway. */
const STOP_TIMEOUT_MS = 10_000;

function flag(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((arg) => arg.startsWith(prefix))?.slice(prefix.length);
}

async function main(): Promise<void> {
  const host = flag('host') ?? DEFAULT_HOST;
  const port = Number(flag('port') ?? DEFAULT_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be an integer 0-65535, got ${flag('port')}`);
  }
  const emulator = await startEmulator({ host, port });
  process.stdout.write(`pubsub-emulator listening on ${emulator.address}\n`);

  exitOnSignals({ close: () => emulator.stop() }, createLogger({ app: 'pubsub-emulator', level: 'warn' }), STOP_TIMEOUT_MS);
}

main().catch((err: unknown) => {
  process.stderr.write(`pubsub-emulator failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
