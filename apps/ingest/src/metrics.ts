/** Ingest's Prometheus metrics, registered on the app's registry (served at /metrics). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

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
    replayed: new Counter({
      name: 'herald_idempotent_replays_total',
      help: 'POST /v1/messages answered from an earlier request with the same Idempotency-Key',
      registers,
    }),
    inboxDropped: new Counter({
      name: 'herald_inbox_dropped_total',
      help: 'Message ids dropped from the head of offline lists because a list went over INBOX_CAP',
      registers,
    }),
    fanoutJobs: new Counter({
      name: 'herald_fanout_jobs_total',
      help: 'Category fan-out job attempts by result (completed, retried, failed)',
      labelNames: ['result'] as const,
      registers,
    }),
    fanoutMembers: new Counter({
      name: 'herald_fanout_members_total',
      help: 'Category members whose offline list got a category message',
      registers,
    }),
    fanoutActive: new Gauge({ name: 'herald_fanout_active', help: 'Fan-out jobs running in this process', registers }),
    fanoutSeconds: new Histogram({
      name: 'herald_fanout_seconds',
      help: 'Time one fan-out job attempt took to write every member',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
  };
}

export type IngestMetrics = ReturnType<typeof createIngestMetrics>;
