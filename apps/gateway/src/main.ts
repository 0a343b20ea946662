/** Gateway process: config from the environment, then serve until SIGTERM. */
import { loadGatewayConfig } from '@herald/config';
import { createLogger } from '@herald/logger';
import { createPubSub, ensureTopic } from '@herald/pubsub';
import { exitOnSignals, withTimeout } from '@herald/http';
import { buildGateway } from './gateway';

/** Do not hold the start-up hostage to Pub/Sub: the publisher retries on its own. */
const ENSURE_TOPIC_TIMEOUT_MS = 10_000;

async function main(): Promise<void> {
  const config = loadGatewayConfig();
  const logger = createLogger({ app: 'gateway', level: config.LOG_LEVEL });
  const pubsub = createPubSub(config);
  try {
    await withTimeout(ensureTopic(pubsub, config.EXPOSURE_TOPIC), ENSURE_TOPIC_TIMEOUT_MS, 'the exposure topic check');
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
