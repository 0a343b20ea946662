/** What the route modules need from the app. */
import type { TokenVerifier } from '@herald/auth';
import type { IngestConfig } from '@herald/config';
import type { Logger } from '@herald/logger';
import type { HeraldRedis } from '@herald/redis';
import type { IngestMetrics } from '../metrics';
import type { SendMessageDeps } from '../sending/send-message';
import type { ControlBus } from '../control-bus';
import type { Scheduler } from '../scheduler';
import type { EventOutbox } from '../events/event-outbox';
import type { WebPushQueue } from '../webpush/web-push-queue';
import type { SendWindow } from '../sending/send-window';

export interface RouteDeps {
  config: IngestConfig;
  redis: HeraldRedis;
  verifier: TokenVerifier;
  metrics: IngestMetrics;
  logger: Logger;
  /** Tells the gateways about updates and recalls. */
  control: ControlBus;
  /** Scheduled sends: holds messages with a sendAt, and drops their jobs (scheduler.ts). */
  scheduler: Scheduler;
  /** The message lifecycle and dropped-id events, for analysts (events/event-outbox.ts). */
  events: EventOutbox;
  /** Web Push to offline recipients (webpush/); none when the deployment has no VAPID keys. */
  webPush?: WebPushQueue;
  /** Single sends gathered over SEND_WINDOW_MS (send-window.ts). */
  sendWindow?: SendWindow;
}

/** What sending a message needs, from the app's config and connections. */
export function sendDepsOf(deps: Pick<RouteDeps, 'config' | 'redis' | 'metrics' | 'events' | 'webPush' | 'sendWindow'>): SendMessageDeps {
  return {
    redis: deps.redis,
    inboxCap: deps.config.INBOX_CAP,
    categoryLogCap: deps.config.CATEGORY_LOG_CAP,
    inboxTtlSeconds: deps.config.MESSAGE_MAX_TTL_SECONDS,
    metrics: deps.metrics,
    events: deps.events,
    webPush: deps.webPush,
    window: deps.sendWindow,
  };
}
