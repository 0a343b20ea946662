/**
 * The ingest service as a value: `buildIngest` wires config, Redis, token verification and the
 * routes onto the shared HTTP app, without listening, so tests drive it with `app.inject()` and
 * `main.ts` alone owns the process (listen, signals).
 */
import type { FastifyInstance } from 'fastify';
import { createVerifier } from '@herald/auth';
import type { IngestConfig } from '@herald/config';
import { createHttpApp, runAll, type HttpApp } from '@herald/http';
import type { Logger } from '@herald/logger';
import { closeRedis, createRedis, type HeraldRedis } from '@herald/redis';
import { createIngestMetrics } from './metrics';
import { redisReadiness } from './readiness';
import { registerCategoryRoutes } from './routes/categories';
import { registerMessageRoutes } from './routes/messages';
import { registerBatchRoute } from './routes/batch';
import { registerMessageChangeRoutes } from './routes/message-changes';
import { ControlBus } from './control-bus';
import { registerPresenceRoute } from './routes/presence';
import { registerMessageStatusRoute } from './routes/message-status';
import { sendDepsOf } from './routes/deps';
import { Scheduler } from './scheduler';
import { buildWebPush } from './webpush/build-web-push';
import { EventOutbox } from './events/event-outbox';
import { SendWindow } from './sending/send-window';
import { EventRelay } from './events/event-relay';
import { BatchPublisher, createPubSub } from '@herald/pubsub';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { registerWebhookRoutes } from './routes/webhooks';
import { startWebhooks, type Webhooks } from './webhooks/webhooks';

/** Shown in the OpenAPI document at /docs. */
const API = {
  title: 'Herald ingest',
  version: '1',
  description:
    "Send messages to users or categories, manage users' categories, see who is connected, and register webhook endpoints. Bearer JWT with scopes.",
};

export interface IngestOptions {
  config: IngestConfig;
  logger: Logger;
  /**
   * A commands connection to use instead of one made from the config. The caller keeps
   * ownership of a connection it passes: `close()` quits only the connection ingest made itself.
   */
  redis?: HeraldRedis;
}

export interface Ingest {
  app: FastifyInstance;
  /** Scheduled sends (scheduler.ts): the routes' own, here for tests and tools (dropScheduledJob). */
  scheduler: Scheduler;
  /** The webhook dispatcher and worker, when WEBHOOK_DISPATCHER is on. */
  webhooks?: Webhooks;
  /** Stops the HTTP app (readiness goes 503 first), then quits Redis. Idempotent. */
  close(): Promise<void>;
}

export async function buildIngest(opts: IngestOptions): Promise<Ingest> {
  const { config, logger } = opts;
  const ownsRedis = opts.redis === undefined;
  const redis = opts.redis ?? createRedis(config, 'commands', 'ingest');
  if (ownsRedis) redis.on('error', (err: Error) => logger.warn({ err, module: 'redis' }, 'redis connection error'));

  let http: HttpApp;
  try {
    http = await createHttpApp({
    headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
      logger,
      bodyLimit: config.MAX_BODY_BYTES,
      api: API,
      readinessChecks: { redis: redisReadiness(redis) },
    });
  } catch (err) {
    if (ownsRedis) await closeRedis(redis);
    throw err;
  }
  const { app, metrics, setReady } = http;
  // Ready once listening (not merely built); not ready from the moment closing starts.
  app.addHook('onListen', async () => setReady(true));
  app.addHook('preClose', async () => setReady(false));

  const ingestMetrics = createIngestMetrics(metrics);
  // The relay publishes what every ingest appends (events/); one per process where EVENTS_RELAY.
  const relayPubSub = config.EVENTS_RELAY ? createPubSub(config) : undefined;
  const relayTopic = relayPubSub && new BatchPublisher(relayPubSub, config.EXPOSURE_TOPIC);
  // Its channel made before the first request, not by the first relay (batch-publisher.ts warm).
  await relayTopic?.warm();
  const relay = relayTopic
    ? new EventRelay({
        redis,
        publisher: relayTopic,
        consumer: `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
        batchMax: config.EVENTS_RELAY_BATCH,
        eventsPerMessage: config.EVENTS_PER_PUBSUB_MESSAGE,
        compression: config.EVENTS_PUBSUB_COMPRESSION,
        claimIdleMs: config.EVENTS_RELAY_CLAIM_MS,
        pollMs: config.EVENTS_RELAY_POLL_MS,
        windowMs: config.EVENTS_RELAY_WINDOW_MS,
        metrics: ingestMetrics,
        logger,
      })
    : undefined;
  const events = new EventOutbox({
    redis,
    bounds: { maxEvents: config.EVENTS_OUTBOX_MAX_EVENTS, maxAgeMs: config.EVENTS_OUTBOX_MAX_AGE_MS },
    metrics: ingestMetrics,
    logger,
    appended: relay && (() => relay.wake()),
    windowMs: config.EVENTS_OUTBOX_WINDOW_MS,
  });
  const sendWindow = new SendWindow(config.SEND_WINDOW_MS);
  // The scheduled sends' worker gets a connection of its own (blocking reads, retries forever).
  const queueConnection = config.SCHEDULE_WORKER ? createRedis(config, 'queue', 'ingest', logger) : undefined;
  const jobsConnection = createRedis(config, 'log', 'ingest-jobs', logger);
  const webPush = buildWebPush({ config, redis, jobs: jobsConnection, metrics: ingestMetrics, events, logger });
  const scheduler = new Scheduler({
    redis,
    jobs: jobsConnection,
    queueConnection,
    concurrency: config.SCHEDULE_CONCURRENCY,
    rememberSeconds: config.IDEMPOTENCY_TTL_SECONDS,
    send: sendDepsOf({ config, redis, metrics: ingestMetrics, events, webPush: webPush?.queue, sendWindow }),
    metrics: ingestMetrics,
    logger,
  });
  const control = new ControlBus(
    redis,
    () => createRedis(config, 'subscriber', 'ingest', logger),
    config.CONTROL_CONFIRM_TIMEOUT_MS,
    logger.child({ module: 'control' }),
  );
  const deps = {
    config,
    redis,
    verifier: createVerifier(config),
    metrics: ingestMetrics,
    logger,
    scheduler,
    control,
    events,
    webPush: webPush?.queue,
    sendWindow,
  };
  registerMessageRoutes(app, deps);
  registerMessageStatusRoute(app, deps);
  registerMessageChangeRoutes(app, deps);
  registerBatchRoute(app, deps);
  registerCategoryRoutes(app, deps);
  registerPresenceRoute(app, deps);
  relay?.start();
  registerWebhookRoutes(app, deps);

  let webhooks: Webhooks | undefined;

  let closing: Promise<void> | undefined;
  const close = () => {
    // In-flight requests finish first; then the worker stops taking jobs and finishes the running
    // ones (a job cut off by the shutdown deadline is taken over by another replica, or this one
    // when it is back, and sends only what it had not).
    closing ??= runAll([
      () => app.close(),
      () => webhooks?.close(),
      () => control.close(),
      () => scheduler.close(),
      () => sendWindow.close(),
      () => webPush?.close(),
      () => events.close(),
      () => relay?.close(),
      () => relayTopic?.close(),
      () => relayPubSub?.close(),
      () => (queueConnection ? closeRedis(queueConnection) : undefined),
      () => closeRedis(jobsConnection),
      () => (ownsRedis ? closeRedis(redis) : undefined),
    ]);
    return closing;
  };
  if (config.WEBHOOK_DISPATCHER) {
    try {
      webhooks = await startWebhooks(config, redis, ingestMetrics, logger);
    } catch (err) {
      await close().catch((closeErr: unknown) => logger.error({ err: closeErr }, 'close after the webhooks failed to start'));
      throw err;
    }
  }
  return { app, scheduler, webhooks, close };
}
