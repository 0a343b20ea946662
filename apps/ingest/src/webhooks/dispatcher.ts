/**
 * The webhook dispatcher (WEBHOOK_DISPATCHER): pulls the events topic through its own
 * subscription (WEBHOOK_SUBSCRIPTION, apart from the exposure-consumer's, so a slow endpoint
 * never holds the exposure store), matches each event to the active endpoints (kind, and category
 * when the endpoint names one), gathers a batch per endpoint (WEBHOOK_BATCH_WINDOW_MS after its
 * first event, or WEBHOOK_BATCH_MAX events) and adds one BullMQ job per batch. A Pub/Sub message
 * holds one event or several (@herald/pubsub event-messages.ts); it is acknowledged only once
 * every batch holding one of its events is queued: a crash before that means Pub/Sub gives it
 * again (a batch made of the same events is the same job: jobs.ts). A failed add nacks the
 * batch's messages, which come again.
 *
 * The pull is @herald/pubsub's StreamPuller (WEBHOOK_STREAMS streams), as the exposure-consumer's:
 * its flow control (WEBHOOK_MAX_OUTSTANDING) counts events, a packed message as many as it holds,
 * so what waits in memory while BullMQ is slow is bounded in events whatever the packing. When the
 * puller stops by itself (a status it does not retry: the subscription was deleted, a permission
 * was taken away), it is opened again after a backoff (1 s doubling to 30 s), the subscription
 * created again if it is gone, as the exposure-consumer does.
 *
 * Endpoints are read from Redis at start and every WEBHOOK_REFRESH_MS (any replica's API may
 * change them). Events that are not events (not JSON, no eventId, an unknown kind) are logged,
 * counted and acknowledged: the topic is the exposure-consumer's to validate.
 */
import type { PubSub } from '@google-cloud/pubsub';
import type { Queue } from 'bullmq';
import type { Logger } from '@herald/logger';
import { ensureSubscription, eventCount, StreamPuller, unpackEvents, type PulledMessage as Message } from '@herald/pubsub';
import { readAllWebhooks, type HeraldRedis, type WebhookEndpoint } from '@herald/redis';
import type { IngestMetrics } from '../metrics';
import { WEBHOOK_JOB_NAME, webhookId, type WebhookJobData } from './jobs';
import { parseEvent, type RoutedEvent } from './parse-event';

/** How long closing waits for the held messages' batches to be queued before nacking the rest. */
const CLOSE_TIMEOUT_MS = 10_000;

export interface DispatcherOptions {
  pubsub: PubSub;
  topicName: string;
  subscriptionName: string;
  ackDeadlineSeconds: number;
  /** Events of unsettled messages held at most. */
  maxOutstanding: number;
  /** StreamingPull streams. */
  streams: number;
  batchMax: number;
  batchWindowMs: number;
  refreshMs: number;
  redis: HeraldRedis;
  queue: Queue<WebhookJobData>;
  metrics: IngestMetrics;
  logger: Logger;
}

/** A pulled message, acknowledged once each batch holding one of its events is queued. */
interface Held {
  message: Message;
  waiting: number;
  failed: boolean;
}

interface Batch {
  items: Array<{ routed: RoutedEvent; held: Held }>;
  timer: NodeJS.Timeout;
}

export class WebhookDispatcher {
  private endpoints: WebhookEndpoint[] = [];
  private readonly batches = new Map<string, Batch>();
  private readonly adds = new Set<Promise<void>>();
  private subscription?: StreamPuller;
  private refreshTimer?: NodeJS.Timeout;
  private reopenTimer?: NodeJS.Timeout;
  private reopenFailures = 0;
  private running = false;
  private closing?: Promise<void>;
  private readonly log: Logger;

  constructor(private readonly opts: DispatcherOptions) {
    this.log = opts.logger.child({ module: 'webhook-dispatcher' });
  }

  /** Reads the endpoints, creates the subscription unless it exists, opens the streaming pull. */
  async start(): Promise<void> {
    this.running = true;
    await this.refresh();
    await this.open();
    this.refreshTimer = setInterval(() => void this.refresh(), this.opts.refreshMs);
    this.log.info({ subscription: this.opts.subscriptionName, endpoints: this.endpoints.length }, 'dispatching events to webhooks');
  }

  private async open(): Promise<void> {
    const { pubsub, topicName, subscriptionName, ackDeadlineSeconds } = this.opts;
    await ensureSubscription(pubsub, topicName, subscriptionName, ackDeadlineSeconds);
    if (!this.running) return;
    const subscription = new StreamPuller(pubsub, subscriptionName, {
      streams: this.opts.streams,
      maxOutstanding: this.opts.maxOutstanding,
      weigh: eventCount,
      ackDeadlineSeconds,
    });
    subscription.on('message', (message: Message) => this.onMessage(message));
    subscription.on('error', (err: Error) => this.log.error({ err }, 'webhook subscription failed'));
    subscription.on('debug', (err: Error) => this.log.debug({ err }, 'webhook subscription'));
    subscription.on('close', () => this.onClosed(subscription));
    this.subscription = subscription;
    await subscription.open();
  }

  /** The client stopped the pull by itself: open it again after a backoff. */
  private onClosed(subscription: StreamPuller): void {
    if (subscription !== this.subscription || !this.running) return;
    subscription.removeAllListeners('message');
    // Its held messages are still settled through it; then its channel closes.
    void subscription.close(CLOSE_TIMEOUT_MS);
    const delay = Math.min(30_000, 1000 * 2 ** this.reopenFailures);
    this.reopenFailures += 1;
    this.log.error({ subscription: this.opts.subscriptionName, retryInMs: delay }, 'the webhook pull stopped; reopening it');
    this.reopenTimer = setTimeout(() => {
      this.open().then(
        () => (this.reopenFailures = 0),
        (err: unknown) => {
          this.log.error({ err }, 'reopening the webhook subscription failed');
          if (this.subscription) this.onClosed(this.subscription);
        },
      );
    }, delay);
  }

  /** Messages pulled and not settled yet: handed out, or waiting at the flow-control bound. */
  get outstanding(): number {
    return this.subscription?.outstanding ?? 0;
  }

  /** The endpoints as last read (active ones get events). */
  get known(): readonly WebhookEndpoint[] {
    return this.endpoints;
  }

  /** Reads the endpoints again now; on a failure the last list stays. */
  async refresh(): Promise<void> {
    try {
      this.endpoints = (await readAllWebhooks(this.opts.redis)).filter((e) => e.state === 'active');
    } catch (err) {
      this.log.warn({ err }, 'reading the webhook endpoints failed; using the last list');
    }
  }

  private onMessage(message: Message): void {
    if (!this.running) {
      message.nack();
      return;
    }
    const unpacked = unpackEvents(message.data, message.attributes);
    const events = unpacked.ok ? unpacked.events : [];
    if (!unpacked.ok) this.invalid(message, unpacked.reason);
    // Every event routed first: the message's count of batches to wait for is whole before any is queued.
    const routes: Array<{ routed: RoutedEvent; endpointId: string }> = [];
    for (const data of events) {
      const parsed = parseEvent(data, message.attributes);
      if (!parsed.ok) {
        this.invalid(message, parsed.reason);
        continue;
      }
      const { routed } = parsed;
      const targets = this.endpoints.filter((e) => e.kinds.includes(routed.kind) && (e.category === null || e.category === routed.category));
      this.opts.metrics.webhookEvents.inc({ outcome: targets.length === 0 ? 'unmatched' : 'matched' });
      for (const endpoint of targets) routes.push({ routed, endpointId: endpoint.id });
    }
    if (routes.length === 0) {
      message.ack();
      return;
    }
    const held: Held = { message, waiting: routes.length, failed: false };
    for (const { routed, endpointId } of routes) this.add(endpointId, routed, held);
  }

  /** Not an event of the topic: counted and logged; acknowledged with its message. */
  private invalid(message: Message, reason: string): void {
    this.opts.metrics.webhookEvents.inc({ outcome: 'invalid' });
    this.log.warn({ pubsubMessageId: message.id, reason }, 'not an event; acknowledged without dispatching');
  }

  private add(endpointId: string, routed: RoutedEvent, held: Held): void {
    let batch = this.batches.get(endpointId);
    if (!batch) {
      batch = { items: [], timer: setTimeout(() => this.flush(endpointId), this.opts.batchWindowMs) };
      this.batches.set(endpointId, batch);
    }
    batch.items.push({ routed, held });
    if (batch.items.length >= this.opts.batchMax) this.flush(endpointId);
  }

  /** Queues the endpoint's batch; its messages are acknowledged (or nacked) when the add settles. */
  private flush(endpointId: string): void {
    const batch = this.batches.get(endpointId);
    if (!batch) return;
    this.batches.delete(endpointId);
    clearTimeout(batch.timer);
    const data: WebhookJobData = { endpointId, madeAt: Date.now(), events: batch.items.map((i) => i.routed.event) };
    const jobId = webhookId(endpointId, batch.items.map((i) => i.routed.eventId));
    const add: Promise<void> = this.opts.queue
      .add(WEBHOOK_JOB_NAME, data, { jobId })
      .then(
        () => {
          this.opts.metrics.webhookBatches.inc({ outcome: 'queued' });
          for (const { held } of batch.items) {
            held.waiting -= 1;
            if (held.waiting === 0 && !held.failed) held.message.ack();
          }
        },
        (err: unknown) => {
          this.opts.metrics.webhookBatches.inc({ outcome: 'enqueue_failed' });
          this.log.error({ err, endpointId, events: batch.items.length }, 'queueing a webhook batch failed; its events will come again');
          for (const { held } of batch.items) {
            if (!held.failed) held.message.nack();
            held.failed = true;
          }
        },
      )
      .finally(() => this.adds.delete(add));
    this.adds.add(add);
  }

  /** Stops pulling, queues what is gathered, acknowledges it, closes the stream. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.running = false;
      clearInterval(this.refreshTimer);
      clearTimeout(this.reopenTimer);
      // Stops the streams at once, then waits for what is held to be settled (what is not by then is nacked).
      const closed = this.subscription?.close(CLOSE_TIMEOUT_MS);
      for (const endpointId of [...this.batches.keys()]) this.flush(endpointId);
      await Promise.allSettled([...this.adds]);
      await closed;
      this.subscription?.removeAllListeners('message');
    })();
    return this.closing;
  }
}
