/**
 * The exposure-consumer, wired: Postgres (external or embedded, migrated, daily partitions kept
 * up), the analyst API on the shared HTTP app, the Pub/Sub subscriber that writes events of every
 * kind in batches, and the re-check of engagements held for their exposure. Kept apart from main.ts so tests build it in-process; pulling starts only when
 * asked (startPulling).
 */
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { createVerifier } from '@herald/auth';
import type { ConsumerConfig } from '@herald/config';
import { createHttpApp, runAll } from '@herald/http';
import type { Logger } from '@herald/logger';
import { createPubSub } from '@herald/pubsub';
import { openDatabase, type Database } from './db/database';
import { EventWriter, type ExposureSink } from './db/event-writer';
import { ExposureStore } from './db/exposure-store';
import { FunnelStore } from './db/funnel-store';
import { startPartitionMaintenance } from './db/partition-maintenance';
import { startEngagementRechecks, type EngagementRechecks } from './ingest/engagement-rechecks';
import { ExposureSubscriber } from './ingest/exposure-subscriber';
import { createConsumerMetrics } from './metrics';
import { registerDashboardRoute } from './routes/dashboard';
import { registerExposureRoutes } from './routes/exposures';
import { registerFunnelRoutes } from './routes/funnel';

export interface ConsumerOptions {
  config: ConsumerConfig;
  logger: Logger;
  /** Where the subscriber writes; the event writer by default. Tests wrap it to make writes fail. */
  sink?: (writer: EventWriter) => ExposureSink;
  /** Pause after the first failed batch write, doubling per failure. @default 100 */
  retryInitialMs?: number;
  /** Longest pause between failed batch writes. @default 10000 */
  retryMaxMs?: number;
}

export interface Consumer {
  app: FastifyInstance;
  store: ExposureStore;
  /** Writes batches of every kind (what the subscriber uses); tests seed through it. */
  writer: EventWriter;
  funnels: FunnelStore;
  /** The re-check of engagements held for their exposure (runs every CONSUMER_ENGAGEMENT_RECHECK_MS). */
  rechecks: EngagementRechecks;
  database: Database;
  metrics: Registry;
  setReady(ready: boolean): void;
  /**
   * Creates the topic and subscription unless they exist, then starts the streaming pull. From
   * then on /readyz answers 503 while no pull is open (the subscriber reopens it with backoff).
   */
  startPulling(): Promise<void>;
  /** Readiness off, HTTP closed, buffered events written and acknowledged, partition maintenance stopped, Postgres closed. Idempotent. */
  close(): Promise<void>;
}

export async function buildConsumer(opts: ConsumerOptions): Promise<Consumer> {
  const { config, logger } = opts;
  const database = await openDatabase(config, logger);
  try {
    const store = new ExposureStore(database.pool, database.readPool);
    const writer = new EventWriter(database.pool, store, config.CONSUMER_ENGAGEMENT_RECHECK_MS);
    const funnels = new FunnelStore(database.readPool);
    /** Set by startPulling; before it, no pull is expected (tests build the API alone). */
    let pullingWanted = false;
    const http = await createHttpApp({
      headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
      logger,
      api: {
        title: 'Herald exposure-consumer',
        version: '1.0.0',
        description: 'Exposure events (one per message pushed to a client) for analysts.',
      },
      readinessChecks: {
        postgres: async () => {
          await database.pool.query('SELECT 1');
        },
        // Once pulling was asked for, a consumer that pulls nothing is not ready (it reopens the pull itself).
        pubsub: async () => {
          if (pullingWanted && !subscriber.pulling) throw new Error('no streaming pull is open; reopening it with backoff');
        },
      },
    });
    const metrics = createConsumerMetrics(http.metrics, () => subscriber.pulling);
    const verifier = createVerifier(config);
    registerExposureRoutes(http.app, { store, verifier });
    registerFunnelRoutes(http.app, { funnels, verifier });
    registerDashboardRoute(http.app);

    const pubsub = createPubSub(config);
    const subscriber = new ExposureSubscriber({
      pubsub,
      topicName: config.EXPOSURE_TOPIC,
      subscriptionName: config.EXPOSURE_SUBSCRIPTION,
      sink: opts.sink ? opts.sink(writer) : writer,
      metrics,
      logger,
      batchMax: config.CONSUMER_BATCH_MAX,
      batchMaxMs: config.CONSUMER_BATCH_MAX_MS,
      maxOutstanding: config.CONSUMER_MAX_OUTSTANDING,
      writeConcurrency: config.CONSUMER_WRITE_CONCURRENCY,
      streams: config.CONSUMER_STREAMS,
      ackDeadlineSeconds: config.CONSUMER_ACK_DEADLINE_SECONDS,
      retryInitialMs: opts.retryInitialMs,
      retryMaxMs: opts.retryMaxMs,
    });
    // Last, so that nothing after it can fail and leave its timer running. Runs once before returning.
    const partitions = await startPartitionMaintenance({ pool: database.pool, logger, retentionDays: config.EXPOSURE_RETENTION_DAYS });
    const rechecks = startEngagementRechecks({
      pool: database.pool,
      logger,
      metrics,
      recheckMs: config.CONSUMER_ENGAGEMENT_RECHECK_MS,
      maxChecks: config.CONSUMER_ENGAGEMENT_RECHECKS,
    });

    let closing: Promise<void> | undefined;
    return {
      app: http.app,
      store,
      writer,
      funnels,
      rechecks,
      database,
      metrics: http.metrics,
      setReady: http.setReady,
      async startPulling() {
        pullingWanted = true;
        await subscriber.start();
      },
      close: () =>
        (closing ??= runAll([
          () => http.setReady(false),
          () => http.app.close(),
          () => subscriber.close(),
          () => pubsub.close(),
          () => rechecks.close(),
          () => partitions.close(),
          () => database.close(),
        ])),
    };
  } catch (err) {
    await database.close().catch((closeErr: unknown) => logger.warn({ err: closeErr }, 'closing the database after a failed start failed'));
    throw err;
  }
}
