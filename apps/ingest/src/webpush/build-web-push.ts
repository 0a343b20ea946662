/**
 * Web Push in ingest, from config: off (a log line says so) without VAPID keys; else the queue,
 * and its worker on a connection of its own where WEBPUSH_WORKER is on.
 */
import { ConfigError, webPushEnabled, type IngestConfig } from '@herald/config';
import { parseAllowedHosts, type AllowedHosts } from '@herald/http';
import type { Logger } from '@herald/logger';
import { closeRedis, createRedis, type HeraldRedis } from '@herald/redis';
import type { IngestMetrics } from '../metrics';
import type { EventOutbox } from '../events/event-outbox';
import { WebPushQueue } from './web-push-queue';

export interface WebPushDeps {
  config: IngestConfig;
  /** The commands connection: presence, offline lists, subscriptions. */
  redis: HeraldRedis;
  /** The connection that adds jobs (the scheduler's, `log` role). */
  jobs: HeraldRedis;
  metrics: IngestMetrics;
  events: EventOutbox;
  logger: Logger;
}

export interface BuiltWebPush {
  queue: WebPushQueue;
  close(): Promise<void>;
}

/** WEBPUSH_ALLOWED_HOSTS parsed; a bad entry stops the start naming the variable. */
function allowedHostsOf(value: string | undefined): AllowedHosts {
  try {
    return parseAllowedHosts(value);
  } catch (err) {
    throw new ConfigError('WEBPUSH_ALLOWED_HOSTS', (err as Error).message);
  }
}

export function buildWebPush(deps: WebPushDeps): BuiltWebPush | undefined {
  const { config, logger } = deps;
  if (!webPushEnabled(config)) {
    logger.info({ module: 'webpush' }, 'Web Push is off (no WEBPUSH_VAPID_PUBLIC_KEY / WEBPUSH_VAPID_PRIVATE_KEY): notifications are not pushed');
    return undefined;
  }
  const allowedHosts = allowedHostsOf(config.WEBPUSH_ALLOWED_HOSTS);
  const queueConnection = config.WEBPUSH_WORKER ? createRedis(config, 'queue', 'ingest-webpush', logger) : undefined;
  const queue = new WebPushQueue({
    redis: deps.redis,
    jobs: deps.jobs,
    queueConnection,
    concurrency: config.WEBPUSH_CONCURRENCY,
    attempts: config.WEBPUSH_ATTEMPTS,
    backoffMs: config.WEBPUSH_BACKOFF_MS,
    maxRetryAfterMs: config.WEBPUSH_MAX_RETRY_AFTER_SECONDS * 1000,
    client: {
      // Both keys and the subject are there: the config's checks refuse one without the others.
      vapid: { subject: config.WEBPUSH_SUBJECT!, publicKey: config.WEBPUSH_VAPID_PUBLIC_KEY!, privateKey: config.WEBPUSH_VAPID_PRIVATE_KEY! },
      allowedHosts,
      timeoutMs: config.WEBPUSH_TIMEOUT_MS,
    },
    events: deps.events,
    metrics: deps.metrics,
    logger,
  });
  logger.info({ module: 'webpush', worker: config.WEBPUSH_WORKER, allowedHosts: [...allowedHosts] }, 'Web Push is on');
  return {
    queue,
    async close() {
      try {
        await queue.close();
      } finally {
        if (queueConnection) await closeRedis(queueConnection);
      }
    },
  };
}
