/**
 * Publishes the event outbox (event-outbox.ts) to Pub/Sub: reads entries through the outbox's
 * consumer group, publishes them (packed by kind, EVENTS_PER_PUBSUB_MESSAGE to a message:
 * @herald/pubsub event-messages.ts), then acknowledges and deletes them.
 * Any ingest process may run it (EVENTS_RELAY); entries a relay read and did not publish (it died)
 * are taken over by another after EVENTS_RELAY_CLAIM_MS, so nothing appended is lost, and an entry
 * published twice (a relay died between the publish and the ack) is one event to the consumer,
 * which stores each eventId once.
 *
 * It runs when this process appended (wake) and otherwise every EVENTS_RELAY_POLL_MS, so another
 * process's leftovers are found without a blocking read. Rounds are at least EVENTS_RELAY_WINDOW_MS
 * apart unless the last one read a full batch: at 1,000 requests a second, rounds back to back
 * made a publish call for every few events, each costing ingest and the emulator about as much as
 * a full one (docs/BENCHMARKS.md, "Ingest's events, published"). A failed read or publish keeps the
 * entries (the next round reads this relay's own unacknowledged entries first, so order holds)
 * and waits a backoff (100 ms doubling to 5 s).
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from '@herald/logger';
import { packEvents, type BatchPublisher, type EventCompression, type OutgoingEvent } from '@herald/pubsub';
import { ackSpill, ensureSpillGroup, EVENT_OUTBOX, isNoGroupError, readSpill, type HeraldRedis, type SpilledEvent } from '@herald/redis';
import type { IngestMetrics } from '../metrics';
import { decodeEntry } from './event-outbox';

export interface EventRelayOptions {
  redis: HeraldRedis;
  /** The events' topic (EXPOSURE_TOPIC): one publish call per round. */
  publisher: Pick<BatchPublisher, 'publish'>;
  /** This relay's name in the consumer group (one per process). */
  consumer: string;
  /** Entries read and published per round (EVENTS_RELAY_BATCH). */
  batchMax: number;
  /** Events packed into one Pub/Sub message, at most (EVENTS_PER_PUBSUB_MESSAGE). */
  eventsPerMessage: number;
  /** How packed messages are compressed (EVENTS_PUBSUB_COMPRESSION). */
  compression: EventCompression;
  /** Entries another relay read and left unacknowledged this long are taken over (EVENTS_RELAY_CLAIM_MS). */
  claimIdleMs: number;
  /** A round at least this often, even when this process appended nothing (EVENTS_RELAY_POLL_MS). */
  pollMs: number;
  /** Rounds at least this far apart unless the last one read a full batch (EVENTS_RELAY_WINDOW_MS). */
  windowMs: number;
  metrics: IngestMetrics;
  logger: Logger;
}

const BACKOFF_INITIAL_MS = 100;
const BACKOFF_MAX_MS = 5000;

export class EventRelay {
  private running = false;
  private loop?: Promise<void>;
  private wakeUp?: () => void;
  private woken = false;
  private timer?: NodeJS.Timeout;
  private failures = 0;
  /** When the last round started (performance.now()). */
  private roundAt = -Infinity;
  private groupReady = false;
  private readonly log: Logger;

  constructor(private readonly opts: EventRelayOptions) {
    this.log = opts.logger.child({ module: 'event-relay' });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Events were appended: publish them now rather than at the next poll. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Stops after the round under way; what is left in the outbox waits for a relay. Idempotent. */
  async close(): Promise<void> {
    this.running = false;
    this.wakeUp?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let delay = this.opts.pollMs;
      try {
        const published = await this.round();
        this.failures = 0;
        // A full batch: there may be more waiting.
        if (published >= this.opts.batchMax) continue;
      } catch (err) {
        if (isNoGroupError(err)) this.groupReady = false;
        delay = Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** this.failures);
        this.failures += 1;
        this.log.error({ err, retryInMs: delay }, 'relaying events to Pub/Sub failed; they stay in the outbox');
      }
      await this.pause(delay);
    }
  }

  /** What is left of the window since the last round started (ms; 0 or less: none). */
  private windowLeft(): number {
    return this.roundAt + this.opts.windowMs - performance.now();
  }

  /**
   * Resolves after `ms`, or when woken once the window since the last round has passed (unless
   * failing: then the backoff holds); at once when closing.
   */
  private pause(ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    if (this.woken && this.failures === 0) {
      const left = this.windowLeft();
      if (left <= 0) {
        this.woken = false;
        return Promise.resolve();
      }
      ms = Math.min(ms, left);
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(this.timer);
        this.wakeUp = undefined;
        resolve();
      };
      this.timer = setTimeout(done, ms);
      this.wakeUp =
        this.failures === 0 || !this.running
          ? () => {
              const left = this.running ? this.windowLeft() : 0;
              if (left <= 0) return done();
              clearTimeout(this.timer);
              this.timer = setTimeout(done, left);
            }
          : undefined;
      if (!this.running) done();
    });
  }

  /** One read, publish and ack; returns how many events were published. */
  private async round(): Promise<number> {
    const { redis, consumer, batchMax, claimIdleMs, metrics } = this.opts;
    this.woken = false;
    this.roundAt = performance.now();
    if (!this.groupReady) {
      await ensureSpillGroup(redis, EVENT_OUTBOX);
      this.groupReady = true;
    }
    const entries = await readSpill(redis, consumer, batchMax, claimIdleMs, EVENT_OUTBOX);
    if (entries.length === 0) return 0;
    const events: OutgoingEvent[] = [];
    const discarded: SpilledEvent[] = [];
    for (const entry of entries) {
      const event = decodeEntry(entry.data);
      if (event) events.push({ data: event.json, kind: event.kind });
      else {
        // Not written by ingest: nothing could ever publish it.
        discarded.push(entry);
        metrics.relayed.inc({ outcome: 'discarded' });
        this.log.error({ entry: entry.id }, 'an outbox entry is not an event; discarded');
      }
    }
    try {
      // One call for the round (all stored, or all published again: the consumer keeps one of each).
      if (events.length > 0) await this.opts.publisher.publish(packEvents(events, this.opts.eventsPerMessage, this.opts.compression));
    } catch (err) {
      metrics.relayed.inc({ outcome: 'retried' }, events.length);
      // The discarded ones go: they would only be discarded again.
      if (discarded.length > 0) await ackSpill(redis, discarded, EVENT_OUTBOX);
      throw err;
    }
    await ackSpill(redis, entries, EVENT_OUTBOX);
    metrics.relayed.inc({ outcome: 'published' }, events.length);
    return events.length;
  }
}
