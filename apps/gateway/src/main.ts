/** Gateway process: config from the environment, then serve until SIGTERM. */
import { loadGatewayConfig } from '@herald/config';
import { createLogger } from '@herald/logger';
import { createPubSub, ensureTopic } from '@herald/pubsub';
import { exitOnSignals } from '@herald/http';
import { buildGateway } from './gateway';

async function main(): Promise<void> {
  const config = loadGatewayConfig();
  const logger = createLogger({ app: 'gateway', level: config.LOG_LEVEL });
  const pubsub = createPubSub(config);
  try {
    await ensureTopic(pubsub, config.EXPOSURE_TOPIC);
  } catch (err) {
    logger.warn({ err, topic: config.EXPOSURE_TOPIC }, 'could not ensure the exposure topic exists; publishing anyway');
  }
  await pubsub.close();
  const gateway = await buildGateway({ config, logger });
  exitOnSignals(gateway, logger, config.SHUTDOWN_TIMEOUT_MS);
  await gateway.listen();
}

main().catch((err: unknown) => {
  process.stderr.write(`gateway failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
