/**
 * The webhook machinery of one ingest process when WEBHOOK_DISPATCHER is on: the dispatcher
 * (Pub/Sub → batches → jobs) with its Queue on a connection of its own, and the delivery worker
 * on a `queue` connection. `close()` stops the pull first (what is gathered is queued), then the
 * worker (running requests finish), then the connections; every step runs.
 */
import type { IngestConfig } from '@herald/config';
import { runAll } from '@herald/http';
import type { Logger } from '@herald/logger';
import { createPubSub } from '@herald/pubsub';
import { closeRedis, createRedis, queues, type HeraldRedis } from '@herald/redis';
import type { IngestMetrics } from '../metrics';
import { WebhookDeliveryWorker, webhookJobOptions } from './delivery-worker';
import { WebhookDispatcher } from './dispatcher';
import type { WebhookJobData } from './jobs';
import { openQueue } from '../queues';

export interface Webhooks {
  dispatcher: WebhookDispatcher;
  close(): Promise<void>;
}

export async function startWebhooks(config: IngestConfig, redis: HeraldRedis, metrics: IngestMetrics, logger: Logger): Promise<Webhooks> {
  const jobs = createRedis(config, 'log', 'ingest-webhook-jobs', logger);
  const queueConnection = createRedis(config, 'queue', 'ingest-webhooks', logger);
  const pubsub = createPubSub(config);
  const queue = openQueue<WebhookJobData>(queues.webhooks, jobs, webhookJobOptions, logger.child({ module: 'webhook-dispatcher' }));
  const worker = new WebhookDeliveryWorker({
    redis,
    connection: queueConnection,
    concurrency: config.WEBHOOK_CONCURRENCY,
    endpointConcurrency: config.WEBHOOK_ENDPOINT_CONCURRENCY,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    retryInitialMs: config.WEBHOOK_RETRY_INITIAL_MS,
    retryMaxDelayMs: config.WEBHOOK_RETRY_MAX_DELAY_MS,
    retryPeriodMs: config.WEBHOOK_RETRY_PERIOD_MS,
    deadLettersKept: config.WEBHOOK_DEAD_LETTERS_KEPT,
    allowedHosts: config.WEBHOOK_ALLOWED_HOSTS ?? [],
    metrics,
    logger,
  });
  const dispatcher = new WebhookDispatcher({
    pubsub,
    topicName: config.EXPOSURE_TOPIC,
    subscriptionName: config.WEBHOOK_SUBSCRIPTION,
    ackDeadlineSeconds: config.WEBHOOK_ACK_DEADLINE_SECONDS,
    maxOutstanding: config.WEBHOOK_MAX_OUTSTANDING,
    streams: config.WEBHOOK_STREAMS,
    batchMax: config.WEBHOOK_BATCH_MAX,
    batchWindowMs: config.WEBHOOK_BATCH_WINDOW_MS,
    refreshMs: config.WEBHOOK_REFRESH_MS,
    redis,
    queue,
    metrics,
    logger,
  });
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= runAll([
      () => dispatcher.close(),
      () => worker.close(),
      () => queue.close(),
      () => pubsub.close(),
      () => closeRedis(queueConnection),
      () => closeRedis(jobs),
    ]));
  try {
    await dispatcher.start();
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
  return { dispatcher, close };
}
