/** The gateway's Prometheus metrics, registered on the app's registry. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Read at scrape time: nothing on the delivery path keeps these gauges up to date. */
export interface GaugeSources {
  /** Exposure events held in memory (ExposurePublisher.outstanding). */
  exposuresPending(): number;
  /** Events in the exposure spill (a Redis read). */
  spillLength(): Promise<number>;
  /** Age of the oldest event in the exposure spill, ms by Redis's clock; 0 when empty (a Redis read). */
  spillOldestAgeMs(): Promise<number>;
}

export function createGatewayMetrics(registry: Registry, sources?: GaugeSources) {
  const registers = [registry];
  return {
    connections: new Gauge({ name: 'herald_gateway_connections', help: 'Open WebSocket sessions', registers }),
    connectsRefused: new Counter({
      name: 'herald_gateway_connects_refused_total',
      help: 'Upgrade requests refused before the upgrade, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    pushed: new Counter({
      name: 'herald_gateway_messages_pushed_total',
      help: 'Message frames pushed to clients, by via (offline drain or live)',
      labelNames: ['via'] as const,
      registers,
    }),
    resyncs: new Counter({
      name: 'herald_gateway_resyncs_total',
      help: 'Times the Redis subscriber reconnected and every session was closed with 1012 to resync',
      registers,
    }),
    acked: new Counter({
      name: 'herald_gateway_acks_total',
      help: 'Message ids removed from inboxes by client acks',
      registers,
    }),
    acksIgnored: new Counter({
      name: 'herald_gateway_acks_ignored_total',
      help:
        'Acked ids ignored (no Redis work), by reason: unknown (not pending for the session: never ' +
        'pushed to it, acked already, or forgotten) or repeated (earlier in the same frame)',
      labelNames: ['reason'] as const,
      registers,
    }),
    unackedForgotten: new Counter({
      name: 'herald_gateway_unacked_forgotten_total',
      help: 'Pushed ids a session stopped remembering past WS_MAX_UNACKED_IDS (their acks are then ignored)',
      registers,
    }),
    expiredDropped: new Counter({
      name: 'herald_gateway_expired_dropped_total',
      help: 'Ids dropped from inboxes because their message expired',
      registers,
    }),
    bodyLookups: new Counter({
      name: 'herald_gateway_body_lookups_total',
      help: 'Message body lookups by result (cache hit or miss)',
      labelNames: ['result'] as const,
      registers,
    }),
    drainSeconds: new Histogram({
      name: 'herald_gateway_drain_seconds',
      help: 'Time from upgrade to the end of the offline drain',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    drainWaits: new Counter({
      name: 'herald_gateway_drain_waits_total',
      help: 'Times an offline drain waited for a slow socket to take the bytes in flight',
      registers,
    }),
    closes: new Counter({
      name: 'herald_gateway_closes_total',
      help: 'Sessions closed by the server, by close code',
      labelNames: ['code'] as const,
      registers,
    }),
    frameErrors: new Counter({
      name: 'herald_gateway_frame_errors_total',
      help: 'Client frames refused with an error frame, by code',
      labelNames: ['code'] as const,
      registers,
    }),
    exposures: new Counter({
      name: 'herald_exposures_published_total',
      help:
        'Exposure events by outcome: published (from memory), retried (a publish failed), spilled ' +
        '(written to the Redis spill), replayed (published from the spill), rescued (moved from a ' +
        'stopped gateway write-ahead log to the spill), unlogged (pushed without the write-ahead log: ' +
        'Redis refused or was slow), dropped (lost: the spill was full), expired (lost: trimmed from ' +
        'the spill by age), failed (lost: neither Pub/Sub nor Redis took it)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    exposurePublishErrors: new Counter({
      name: 'herald_exposures_publish_errors_total',
      help: 'Failed exposure publish calls, by gRPC status and whether it is retried soon (retryable) or after a long pause',
      labelNames: ['status', 'retryable'] as const,
      registers,
    }),
    exposuresPending: new Gauge({
      name: 'herald_exposures_pending',
      help: 'Exposure events held in memory: queued, being published, or on their way to the spill',
      registers,
      collect() {
        if (sources) this.set(sources.exposuresPending());
      },
    }),
    exposuresSpilled: new Gauge({
      name: 'herald_exposures_spilled',
      help: 'Exposure events in the Redis spill (all gateways), waiting to be replayed to Pub/Sub',
      registers,
      async collect() {
        if (!sources) return;
        try {
          this.set(await sources.spillLength());
        } catch {
          // Redis unreachable: keep the last value; /metrics must still answer.
        }
      },
    }),
    exposuresSpillAge: new Gauge({
      name: 'herald_exposures_spill_oldest_age_seconds',
      help: 'Age of the oldest exposure event in the Redis spill (0 when empty); past EXPOSURE_SPILL_MAX_AGE_MS events expire',
      registers,
      async collect() {
        if (!sources) return;
        try {
          this.set((await sources.spillOldestAgeMs()) / 1000);
        } catch {
          // Redis unreachable: keep the last value; /metrics must still answer.
        }
      },
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
