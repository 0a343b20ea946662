/**
 * What the dispatcher hands the delivery worker: one BullMQ job per (endpoint, batch) on the queue
 * `herald-webhooks`, and the request body the worker makes of it. The job id is the batch's
 * `webhook-id`, a digest of the endpoint and the batch's event ids: the same batch made again
 * (the dispatcher died after adding it and before acknowledging its events, and Pub/Sub gave the
 * same events again) is the same job, which BullMQ does not add twice while it is kept.
 */
import { createHash } from 'node:crypto';
import { WEBHOOK_BODY_TYPE, type WebhookBody } from '@herald/types';
import type { RoutedEvent } from './parse-event';

export const WEBHOOK_JOB_NAME = 'post';

export interface WebhookJobData {
  endpointId: string;
  /** Epoch ms when the batch was made: the body's `timestamp`; the retry period counts from it. */
  madeAt: number;
  events: RoutedEvent['event'][];
}

/** `msg_<hex>`: the `webhook-id` of a batch (the same on every retry), and its job id. */
export function webhookId(endpointId: string, eventIds: string[]): string {
  const h = createHash('sha256').update(endpointId);
  for (const id of [...eventIds].sort()) h.update('\u0000').update(id);
  return `msg_${h.digest('hex').slice(0, 32)}`;
}

/** The request body of a batch: the same bytes on every attempt. */
export function webhookBody(data: WebhookJobData): string {
  const body: WebhookBody = { type: WEBHOOK_BODY_TYPE, timestamp: new Date(data.madeAt).toISOString(), data: { events: data.events } };
  return JSON.stringify(body);
}
