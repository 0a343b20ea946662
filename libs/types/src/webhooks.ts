/**
 * Webhooks for producers (issue 18): what an endpoint may ask for and what Herald posts to it.
 * The shapes of the events themselves are those of the topic (events.ts, exposure.ts).
 */
import { ENGAGEMENT_KINDS, LOSS_KINDS, MESSAGE_EVENT_KINDS, type EventKind } from './events';

/** Every kind an endpoint may subscribe to: each event kind on the topic. */
export const WEBHOOK_EVENT_KINDS: readonly EventKind[] = ['delivered', ...ENGAGEMENT_KINDS, ...LOSS_KINDS, ...MESSAGE_EVENT_KINDS];

export function isWebhookEventKind(value: unknown): value is EventKind {
  return typeof value === 'string' && (WEBHOOK_EVENT_KINDS as readonly string[]).includes(value);
}

/** The `type` of every webhook body. */
export const WEBHOOK_BODY_TYPE = 'herald.events';

/**
 * The JSON body of one webhook request (one batch). `timestamp` is when the batch was made (the
 * same on every retry, like `webhook-id`); each event is as on the topic, with `kind` always
 * present (an exposure, which has none on the topic, says `delivered`).
 */
export interface WebhookBody {
  type: typeof WEBHOOK_BODY_TYPE;
  timestamp: string;
  data: { events: Array<{ kind: EventKind; eventId: string } & Record<string, unknown>> };
}

/** Whether an endpoint still gets requests. */
export type WebhookState = 'active' | 'disabled';
