/** Ingest's Prometheus metrics, registered on the app's registry (served at /metrics). */
import { Counter, type Registry } from 'prom-client';

/** What a message was addressed to: a list of users or a category. */
export type MessageTarget = 'users' | 'category';

export function createIngestMetrics(registry: Registry) {
  const registers = [registry];
  return {
    accepted: new Counter({
      name: 'herald_messages_accepted_total',
      help: 'Messages accepted by POST /v1/messages (202) and /v1/messages/batch (each message), by target (users or category)',
      labelNames: ['target'] as const,
      registers,
    }),
    replayed: new Counter({
      name: 'herald_idempotent_replays_total',
      help: 'POST /v1/messages (or a batch item) answered from an earlier request with the same Idempotency-Key',
      registers,
    }),
    inboxDropped: new Counter({
      name: 'herald_inbox_dropped_total',
      help: 'Message ids dropped from the head of offline lists because a list went over INBOX_CAP',
      registers,
    }),
    replaced: new Counter({
      name: 'herald_replaced_total',
      help: 'Older messages with the same replace key removed by a new one: ids from offline lists (target users), entries from category logs (target category)',
      labelNames: ['target'] as const,
      registers,
    }),
    categoryLogDropped: new Counter({
      name: 'herald_category_log_dropped_total',
      help: "Entries dropped from the head of categories' logs because a log went over CATEGORY_LOG_CAP or past the longest message TTL",
      registers,
    }),
    changed: new Counter({
      name: 'herald_messages_changed_total',
      help: 'Messages changed after they were accepted, by change: updated (PATCH), recalled (DELETE of a sent message), cancelled (DELETE of a scheduled one)',
      labelNames: ['change'] as const,
      registers,
    }),
    scheduled: new Counter({
      name: 'herald_scheduled_total',
      help:
        'Scheduled sends (POST /v1/messages with sendAt) by outcome: scheduled (accepted), sent (its time came and it was sent), ' +
        'cancelled (recalled before it was sent), failed (its job ran out of attempts)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    outbox: new Counter({
      name: 'herald_events_outbox_total',
      help:
        'Events (message lifecycle, dropped ids) for the outbox, by outcome: appended, refused (the outbox held EVENTS_OUTBOX_MAX_EVENTS), ' +
        'expired (trimmed unpublished after EVENTS_OUTBOX_MAX_AGE_MS), failed (Redis refused the append)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    relayed: new Counter({
      name: 'herald_events_relayed_total',
      help: 'Outbox events relayed to Pub/Sub by this process, by outcome: published, retried (the publish failed; kept), discarded (not an event)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    webhookEvents: new Counter({
      name: 'herald_webhook_events_total',
      help:
        'Events the webhook dispatcher pulled from EXPOSURE_TOPIC, by outcome: matched (at least one endpoint wants it), ' +
        'unmatched (none does), invalid (not an event: logged and acknowledged)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    webhookBatches: new Counter({
      name: 'herald_webhook_batches_total',
      help:
        'Webhook batches by outcome: queued (a job added), enqueue_failed (the add failed; its events are redelivered), ' +
        'sent (an endpoint answered 2xx), failed (a request failed), retried (a failed batch will be tried again), ' +
        'dead_lettered (failed for WEBHOOK_RETRY_PERIOD_MS, or queued for a disabled endpoint), discarded (its endpoint was deleted)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    webPushJobs: new Counter({
      name: 'herald_webpush_jobs_total',
      help:
        'Web Push jobs (one per message and offline user; one per category message, which queues those of its offline members) by outcome: ' +
        'queued, skipped_online (the user connected before it ran), skipped_read (the id left the offline list: acked, recalled, replaced ' +
        'or expired; or the user read past it in the category), skipped_not_member (left the category), skipped_expired, no_subscriptions, ' +
        'done, fanned_out (a category job walked every member), failed (queueing failed)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    webPushes: new Counter({
      name: 'herald_webpush_pushes_total',
      help:
        'Web Push requests by outcome: sent (2xx), gone (404/410: subscription removed), throttled (429, tried again after Retry-After), ' +
        'retried (timeout, network error, 5xx: tried again after a backoff), failed (out of attempts, or refused for good)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    webPushRemoved: new Counter({
      name: 'herald_webpush_subscriptions_removed_total',
      help: 'Web Push subscriptions removed because their push service answered 404 or 410',
      registers,
    }),
  };
}

export type IngestMetrics = ReturnType<typeof createIngestMetrics>;
