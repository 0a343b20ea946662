/** Ingest's Prometheus metrics, registered on the app's registry (served at /metrics). */
import { Counter, type Registry } from 'prom-client';

/** What a message was addressed to: a list of users or a category. */
export type MessageTarget = 'users' | 'category';

export function createIngestMetrics(registry: Registry) {
  const registers = [registry];
  return {
    accepted: new Counter({
      name: 'herald_messages_accepted_total',
      help: 'Messages accepted (202) by POST /v1/messages, by target (users or category)',
      labelNames: ['target'] as const,
      registers,
    }),
    inboxDropped: new Counter({
      name: 'herald_inbox_dropped_total',
      help: 'Message ids dropped from the head of offline lists because a list went over INBOX_CAP',
      registers,
    }),
  };
}

export type IngestMetrics = ReturnType<typeof createIngestMetrics>;
