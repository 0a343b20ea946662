/** The consumer's Prometheus metrics, registered on the HTTP app's registry (served at /metrics). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { EventTable } from './ingest/consumer-event';

/** What became of the events of one kind in a batch (event-writer.ts's counts). */
export interface EventCounts {
  inserted: number;
  duplicates: number;
  held?: number;
}

export interface ConsumerMetrics {
  /** Every event handed to us (a Pub/Sub message may hold several), redeliveries included. */
  received: Counter;
  /** Rows written to `exposures`. */
  inserted: Counter;
  /** Valid events whose event id was stored already. */
  duplicates: Counter;
  /** Messages that were not exposure events and went to `dead_letters`. */
  deadLetters: Counter;
  /** Time to write one batch, by outcome (`ok` or `error`). */
  batchSeconds: Histogram<'outcome'>;
  /** How far behind the pushes the store is: age of the oldest event of the last batch written. */
  lagSeconds: Gauge;
  /** 1 while a streaming pull is open, 0 while none is (read from `pulling()` at each scrape). */
  pulling: Gauge;
  /** Streaming pulls reopened after the client had closed one (a status it does not retry). */
  reopens: Counter;
  /** Events of every kind by table and outcome (stored, duplicate, held). */
  events: Counter<'table' | 'outcome'>;
  /** Held engagements, by what the re-check did (stored: the exposure came; refused: it never did). */
  engagementHolds: Counter<'outcome'>;
  /** Adds one batch's counts of a table to `events`. */
  countEvents(table: EventTable, counts: EventCounts): void;
}

/** `pulling` is asked at each scrape whether a streaming pull is open. */
export function createConsumerMetrics(registry: Registry, pulling: () => boolean): ConsumerMetrics {
  const registers = [registry];
  const events = new Counter({
    name: 'herald_consumer_events_total',
    help: 'Events written by table (exposures, engagements, losses, messages) and outcome (stored, duplicate, held: an engagement waiting for its exposure)',
    labelNames: ['table', 'outcome'],
    registers,
  });
  return {
    received: new Counter({ name: 'herald_exposures_received_total', help: 'Events received from Pub/Sub (a message may hold several), redeliveries included', registers }),
    inserted: new Counter({ name: 'herald_exposures_inserted_total', help: 'Exposure events written to Postgres', registers }),
    duplicates: new Counter({
      name: 'herald_exposures_duplicates_total',
      help: 'Exposure events skipped because their eventId was stored already',
      registers,
    }),
    deadLetters: new Counter({
      name: 'herald_exposures_dead_letter_total',
      help: 'Messages that were not valid exposure events, stored in dead_letters',
      registers,
    }),
    batchSeconds: new Histogram({
      name: 'herald_consumer_batch_seconds',
      help: 'Time to write one batch of exposure events to Postgres',
      labelNames: ['outcome'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    lagSeconds: new Gauge({
      name: 'herald_consumer_lag_seconds',
      help: 'Seconds from the push (deliveredAt) of the oldest event in the last batch written to its commit',
      registers,
    }),
    pulling: new Gauge({
      name: 'herald_consumer_pulling',
      help: '1 while the streaming pull from the exposure subscription is open, 0 while no pull runs',
      registers,
      collect() {
        this.set(pulling() ? 1 : 0);
      },
    }),
    reopens: new Counter({
      name: 'herald_consumer_pull_reopens_total',
      help: 'Streaming pulls reopened after Pub/Sub ended one with a status the client does not retry',
      registers,
    }),
    events,
    engagementHolds: new Counter({
      name: 'herald_consumer_engagement_holds_total',
      help: 'Held engagements settled by a re-check: stored (their exposure came) or refused (none after CONSUMER_ENGAGEMENT_RECHECKS checks)',
      labelNames: ['outcome'],
      registers,
    }),
    countEvents(table, counts) {
      if (counts.inserted > 0) events.inc({ table, outcome: 'stored' }, counts.inserted);
      if (counts.duplicates > 0) events.inc({ table, outcome: 'duplicate' }, counts.duplicates);
      if (counts.held) events.inc({ table, outcome: 'held' }, counts.held);
    },
  };
}
