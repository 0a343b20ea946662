/**
 * The ingest process: read the config once, build the service, listen, and stop cleanly on
 * SIGTERM/SIGINT. Everything else lives in `app.ts` so tests never need a process.
 */
import { loadIngestConfig } from '@herald/config';
import { exitOnSignals } from '@herald/http';
import { createLogger } from '@herald/logger';
import { buildIngest, type Ingest } from './app';

async function main(): Promise<void> {
  let config;
  try {
    config = loadIngestConfig();
  } catch (err) {
    // No logger yet (its level is config): say which variable is wrong, plainly, and stop.
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
  const logger = createLogger({ app: 'ingest', level: config.LOG_LEVEL });
  let ingest: Ingest | undefined;
  try {
    ingest = await buildIngest({ config, logger });
    exitOnSignals(ingest, logger, config.SHUTDOWN_TIMEOUT_MS);
    const url = await ingest.app.listen({ host: config.HOST, port: config.PORT });
    logger.info({ url }, 'listening');
  } catch (err) {
    logger.fatal({ err }, 'ingest failed to start');
    await ingest?.close().catch((closeErr: unknown) => logger.error({ err: closeErr }, 'close after failed start'));
    process.exit(1);
  }
}

void main();
