/** Ingest's Prometheus metrics, registered on the app's registry (served at /metrics). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What a message was addressed to: a list of users or a category. */
export type MessageTarget = 'users' | 'category';

/** Reads the fan-out queue's job counts by state, for the queue gauge at scrape time. */
export type JobCounts = () => Promise<Record<string, number>>;

export function createIngestMetrics(registry: Registry, jobCounts?: JobCounts) {
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
    fanoutQueue: new Gauge({
      name: 'herald_fanout_queue_jobs',
      help: 'Fan-out jobs in the queue (all ingest processes) by state: waiting, active, delayed, failed',
      labelNames: ['state'] as const,
      registers,
      async collect() {
        if (!jobCounts) return;
        try {
          for (const [state, count] of Object.entries(await jobCounts())) this.set({ state }, count);
        } catch {
          // Redis unreachable: keep the last values; /metrics must still answer.
        }
      },
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
