/**
 * The webhook delivery worker: one BullMQ worker on the queue `herald-webhooks`, each job a batch
 * for one endpoint (jobs.ts). It reads the endpoint (a deleted one: the batch is discarded; a
 * disabled one: dead-lettered unsent), signs the body per Standard Webhooks (`webhook-id` = the
 * job id, the same on every retry; `webhook-timestamp` = this attempt; `webhook-signature`) and
 * posts it (post-webhook.ts: SSRF guard, deadline, no redirects).
 *
 * - A failed attempt is recorded on the endpoint (GET shows it) and retried with an exponential
 *   backoff (WEBHOOK_RETRY_INITIAL_MS doubling, at most WEBHOOK_RETRY_MAX_DELAY_MS, ±20 %) until
 *   WEBHOOK_RETRY_PERIOD_MS after the batch was made; the attempt failing past that dead-letters
 *   the batch and disables the endpoint (one script, libs/redis webhooks.ts).
 * - One endpoint never holds more than WEBHOOK_ENDPOINT_CONCURRENCY of this worker's
 *   WEBHOOK_CONCURRENCY slots: a job for an endpoint at its bound goes back to the delayed set
 *   for BUSY_DELAY_MS (not an attempt), so a hanging endpoint leaves the other slots to the others.
 * - The worker runs on the `queue` connection (retries forever), which BullMQ duplicates for its
 *   blocking reads; its jobs are added by the dispatcher's Queue on a connection of its own.
 */
import { DelayedError, Worker, type Job } from 'bullmq';
import { Webhook } from 'standardwebhooks';
import type { Logger } from '@herald/logger';
import { deadLetterWebhook, keys, queues, readWebhook, recordWebhookFailure, type HeraldRedis } from '@herald/redis';
import type { IngestMetrics } from '../metrics';
import { webhookBody, type WebhookJobData } from './jobs';
import { postWebhook } from './post-webhook';
import type { AllowedHost } from './url-guard';

/** How long a job for an endpoint at its concurrency bound waits before it is tried again. */
export const BUSY_DELAY_MS = 200;
/** Attempts BullMQ allows; the retry period, not this count, ends a batch. */
const UNBOUNDED_ATTEMPTS = 1_000_000;

export type DeliveryOutcome = 'sent' | 'dead-lettered' | 'discarded';

export interface DeliveryWorkerOptions {
  redis: HeraldRedis;
  connection: HeraldRedis;
  concurrency: number;
  endpointConcurrency: number;
  timeoutMs: number;
  retryInitialMs: number;
  retryMaxDelayMs: number;
  retryPeriodMs: number;
  deadLettersKept: number;
  allowedHosts: readonly AllowedHost[];
  metrics: IngestMetrics;
  logger: Logger;
}

/** The job options the dispatcher's Queue adds batches with. */
export const webhookJobOptions = {
  attempts: UNBOUNDED_ATTEMPTS,
  backoff: { type: 'custom' },
  // Kept a while so a batch made again (same job id) is not added twice; bounded in count.
  removeOnComplete: { age: 3600, count: 1000 },
  removeOnFail: { age: 7 * 86_400, count: 1000 },
};

export class WebhookDeliveryWorker {
  private readonly worker: Worker<WebhookJobData, DeliveryOutcome>;
  private readonly inFlight = new Map<string, number>();
  private readonly log: Logger;
  private closing?: Promise<void>;

  constructor(private readonly opts: DeliveryWorkerOptions) {
    this.log = opts.logger.child({ module: 'webhook-delivery' });
    const { retryInitialMs, retryMaxDelayMs } = opts;
    this.worker = new Worker<WebhookJobData, DeliveryOutcome>(queues.webhooks, (job, token) => this.run(job, token), {
      connection: opts.connection,
      prefix: keys.queuePrefix,
      concurrency: opts.concurrency,
      settings: {
        backoffStrategy: (attemptsMade: number) =>
          Math.round(Math.min(retryMaxDelayMs, retryInitialMs * 2 ** Math.max(0, attemptsMade - 1)) * (0.8 + Math.random() * 0.4)),
      },
    });
    this.worker.on('error', (err) => this.log.warn({ err }, 'webhook worker error'));
  }

  private async run(job: Job<WebhookJobData>, token?: string): Promise<DeliveryOutcome> {
    const { endpointId } = job.data;
    const endpoint = await readWebhook(this.opts.redis, endpointId);
    if (!endpoint) {
      this.opts.metrics.webhookBatches.inc({ outcome: 'discarded' });
      return 'discarded';
    }
    if (endpoint.state === 'disabled') return this.deadLetter(job, 'the endpoint is disabled; not sent');
    const busy = this.inFlight.get(endpointId) ?? 0;
    if (busy >= this.opts.endpointConcurrency) {
      await job.moveToDelayed(Date.now() + BUSY_DELAY_MS, token);
      throw new DelayedError();
    }
    this.inFlight.set(endpointId, busy + 1);
    let outcome;
    try {
      const id = job.id as string;
      const body = webhookBody(job.data);
      const at = new Date();
      const signature = new Webhook(endpoint.secret).sign(id, at, body);
      outcome = await postWebhook({
        url: endpoint.url,
        body,
        headers: { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signature },
        allowedHosts: this.opts.allowedHosts,
        timeoutMs: this.opts.timeoutMs,
      });
    } finally {
      const left = (this.inFlight.get(endpointId) ?? 1) - 1;
      if (left === 0) this.inFlight.delete(endpointId);
      else this.inFlight.set(endpointId, left);
    }
    if (outcome.ok) {
      this.opts.metrics.webhookBatches.inc({ outcome: 'sent' });
      return 'sent';
    }
    this.opts.metrics.webhookBatches.inc({ outcome: 'failed' });
    const now = Date.now();
    await recordWebhookFailure(this.opts.redis, endpointId, now, outcome.reason);
    if (now - job.data.madeAt >= this.opts.retryPeriodMs) {
      return this.deadLetter(job, `failing for ${Math.round((now - job.data.madeAt) / 1000)} s; last: ${outcome.reason}`);
    }
    this.opts.metrics.webhookBatches.inc({ outcome: 'retried' });
    this.log.debug({ endpointId, webhookId: job.id, attempt: job.attemptsMade + 1, reason: outcome.reason }, 'webhook attempt failed; will retry');
    throw new Error(outcome.reason);
  }

  private async deadLetter(job: Job<WebhookJobData>, reason: string): Promise<DeliveryOutcome> {
    const now = Date.now();
    const entry = JSON.stringify({ webhookId: job.id, madeAt: new Date(job.data.madeAt).toISOString(), failedAt: new Date(now).toISOString(), attempts: job.attemptsMade + 1, reason, events: job.data.events });
    const kept = await deadLetterWebhook(this.opts.redis, job.data.endpointId, entry, this.opts.deadLettersKept, now, reason);
    this.opts.metrics.webhookBatches.inc({ outcome: kept ? 'dead_lettered' : 'discarded' });
    if (kept) this.log.warn({ endpointId: job.data.endpointId, webhookId: job.id, reason }, 'webhook batch dead-lettered; the endpoint is disabled');
    return kept ? 'dead-lettered' : 'discarded';
  }

  /** Stops taking jobs and lets running ones finish. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.worker.close();
    return this.closing;
  }
}
