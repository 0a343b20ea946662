/**
 * exposure-consumer process: config from the environment, the consumer, the subscription, the HTTP
 * listener, readiness, and a graceful stop on SIGTERM/SIGINT.
 */
import { loadConsumerConfig } from '@herald/config';
import { exitOnSignals } from '@herald/http';
import { createLogger } from '@herald/logger';
import { buildConsumer, type Consumer } from './app';

async function main(): Promise<void> {
  const config = loadConsumerConfig();
  const logger = createLogger({ app: 'exposure-consumer', level: config.LOG_LEVEL });
  let consumer: Consumer | undefined;
  try {
    consumer = await buildConsumer({ config, logger });
    exitOnSignals(consumer, logger, config.SHUTDOWN_TIMEOUT_MS);
    await consumer.startPulling();
    const url = await consumer.app.listen({ host: config.HOST, port: config.PORT });
    logger.info({ url, database: consumer.database.kind }, 'listening');
    consumer.setReady(true);
  } catch (err) {
    logger.fatal({ err }, 'exposure-consumer failed to start');
    // Stops an embedded Postgres too; the process exits even if that fails.
    await consumer?.close().catch((closeErr: unknown) => logger.error({ err: closeErr }, 'cleanup after a failed start failed'));
    logger.flush?.();
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  // Only configuration errors get here, before there is a logger.
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
