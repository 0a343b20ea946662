/** The gateway's Prometheus metrics, registered on the app's registry. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ExposureEvent } from '@herald/types';

type Via = ExposureEvent['via'];

/** Read at scrape time: nothing on the delivery path keeps these gauges up to date. */
export interface GaugeSources {
  /** Exposure events held in memory (ExposurePublisher.outstanding). */
  exposuresPending(): number;
  /** Events in the exposure spill (a Redis read). */
  spilledEvents(): Promise<number>;
  /** Age of the oldest event in the exposure spill, ms by Redis's clock; 0 when empty (a Redis read). */
  spillOldestAgeMs(): Promise<number>;
}

export function createGatewayMetrics(registry: Registry, sources?: GaugeSources) {
  const registers = [registry];
  // Every metric through one of these, on the app's registry (tools/dev/test/operations-doc.spec.ts
  // finds the metrics by `counter('herald_…'`, `gauge('herald_…'` and `histogram('herald_…'`).
  const counter = <L extends string = string>(name: string, help: string, labelNames: readonly L[] = [], collect?: (this: Counter<L>) => void) =>
    new Counter<L>({ name, help, labelNames, registers, collect });
  const gauge = (name: string, help: string, collect?: (this: Gauge) => void | Promise<void>) => new Gauge({ name, help, registers, collect });
  const histogram = (name: string, help: string, buckets: number[]) => new Histogram({ name, help, buckets, registers });
  /** A collect() reading Redis at scrape time; while Redis does not answer, the gauge keeps its last value. */
  const fromRedis = (read: (s: GaugeSources) => Promise<number>) =>
    async function (this: Gauge): Promise<void> {
      if (!sources) return;
      try {
        this.set(await read(sources));
      } catch {
        // Redis unreachable: keep the last value; /metrics must still answer.
      }
    };

  /**
   * Frames pushed since the counter was last read, by via. Counted in plain numbers on the
   * delivery path and added to the counter when it is read (a scrape): a labelled inc() hashes its
   * labels on every call, ~0.5 µs a delivery inside a broadcast's frame loop (docs/BENCHMARKS.md).
   */
  const pushedSince: Record<Via, number> = { live: 0, offline: 0 };
  counter('herald_gateway_messages_pushed_total', 'Message frames pushed to clients, by via (offline drain or live)', ['via'], function () {
    for (const via of Object.keys(pushedSince) as Via[]) {
      if (pushedSince[via] === 0) continue;
      this.inc({ via }, pushedSince[via]);
      pushedSince[via] = 0;
    }
  });

  return {
    connections: gauge('herald_gateway_connections', 'Open WebSocket sessions'),
    connectsRefused: counter('herald_gateway_connects_refused_total', 'Upgrade requests refused before the upgrade, by reason', ['reason']),
    /** One frame pushed (herald_gateway_messages_pushed_total, counted as it is read). */
    pushed(via: Via): void {
      pushedSince[via]++;
    },
    resyncs: counter(
      'herald_gateway_resyncs_total',
      'Times the Redis subscriber reconnected and every session was closed with 1012 to resync',
    ),
    acked: counter('herald_gateway_acks_total', 'Message ids removed from inboxes by client acks'),
    acksIgnored: counter(
      'herald_gateway_acks_ignored_total',
      'Acked ids ignored (no Redis work), by reason: unknown (not pending for the session: never ' +
        'pushed to it, acked already, or forgotten) or repeated (earlier in the same frame)',
      ['reason'],
    ),
    unackedForgotten: counter(
      'herald_gateway_unacked_forgotten_total',
      'Pushed ids a session stopped remembering past WS_MAX_UNACKED_IDS (their acks are then ignored)',
    ),
    expiredDropped: counter('herald_gateway_expired_dropped_total', 'Ids dropped from inboxes because their message expired'),
    userEvents: counter(
      'herald_gateway_user_events_total',
      'Per-user events recorded for Pub/Sub besides exposures, by kind: opened, clicked, dismissed ' +
        '(client event frames, one per id) and expired (ids a drain found expired)',
      ['kind'],
    ),
    eventsRefused: counter(
      'herald_gateway_events_refused_total',
      'Client engagement events not recorded, by reason: invalid (event frames refused with an ' +
        'error frame, per frame), recalled (ids of messages this gateway knows were recalled, per id) or budget ' +
        '(ids past WS_MAX_EVENTS_PER_SECOND, per id)',
      ['reason'],
    ),
    bodyLookups: counter('herald_gateway_body_lookups_total', 'Message body lookups by result (cache hit or miss)', ['result']),
    drainSeconds: histogram(
      'herald_gateway_drain_seconds',
      'Time from upgrade to the end of the offline drain',
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ),
    drainWaits: counter('herald_gateway_drain_waits_total', 'Times an offline drain waited for a slow socket to take the bytes in flight'),
    closes: counter('herald_gateway_closes_total', 'Sessions closed by the server, by close code', ['code']),
    frameErrors: counter('herald_gateway_frame_errors_total', 'Client frames refused with an error frame, by code', ['code']),
    presenceErrors: counter(
      'herald_gateway_presence_errors_total',
      'Presence writes to Redis that failed (connections are not affected), by op: open, close, refresh (key TTLs), beat',
      ['op'],
    ),
    exposures: counter(
      'herald_exposures_published_total',
      'Exposure events by outcome: published (from memory), retried (a publish failed), spilled ' +
        '(written to the Redis spill), replayed (published from the spill), rescued (moved from a ' +
        'stopped gateway write-ahead log to the spill), unlogged (pushed without the write-ahead log: ' +
        'Redis refused or was slow), dropped (lost: the spill was full), expired (lost: trimmed from ' +
        'the spill by age), failed (lost: neither Pub/Sub nor Redis took it)',
      ['outcome'],
    ),
    exposurePublishErrors: counter(
      'herald_exposures_publish_errors_total',
      'Failed exposure publish calls, by gRPC status and whether it is retried soon (retryable) or after a long pause',
      ['status', 'retryable'],
    ),
    exposuresPending: gauge(
      'herald_exposures_pending',
      'Exposure events held in memory: queued, being published, or on their way to the spill',
      function () {
        if (sources) this.set(sources.exposuresPending());
      },
    ),
    exposuresSpilled: gauge(
      'herald_exposures_spilled',
      'Exposure events in the Redis spill (all gateways), waiting to be replayed to Pub/Sub',
      fromRedis((s) => s.spilledEvents()),
    ),
    exposuresSpillAge: gauge(
      'herald_exposures_spill_oldest_age_seconds',
      'Age of the oldest exposure event in the Redis spill (0 when empty); past EXPOSURE_SPILL_MAX_AGE_MS events expire',
      fromRedis(async (s) => (await s.spillOldestAgeMs()) / 1000),
    ),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
