/**
 * What ingest tells analysts (issue 18's funnel, issue 17's counts): one event per step of a
 * message's life (`sent`, `scheduled`, `updated`, `recalled`) and one `dropped` event per id an
 * offline list's cap pushed out unread. Each is appended to the event outbox in Redis once its step
 * is in Redis, before the producer gets the answer, and published to Pub/Sub by a relay
 * (event-relay.ts): a crash after the answer loses nothing, and an outage of Pub/Sub only delays.
 *
 * Deliveries come first, as on the gateway's exposure path: a failed or refused append (Redis
 * refused it, or the outbox is at its bounds) never fails the request; it is counted and logged.
 *
 * The appends of one write window (EVENTS_OUTBOX_WINDOW_MS, libs/redis write-window.ts) go to
 * Redis as one: at 1k requests a second every request was its own Redis round for its `sent`
 * event. A request still waits for its events' append; an append after a quiet spell waits for
 * nothing.
 */
import type { Logger } from '@herald/logger';
import { EVENT_OUTBOX, spillExposures, WriteWindow, type DroppedId, type HeraldRedis, type SpillBounds } from '@herald/redis';
import { perUserEventId } from '@herald/pubsub';
import { IsoTimes, WEBPUSH_EVENT_KIND, type LossEvent, type Message, type MessageEvent, type MessageEventKind, type WebPushEvent, type WebPushStatus } from '@herald/types';
import type { IngestMetrics } from '../metrics';

/** An event ready for the outbox: its kind (the Pub/Sub attribute) and its JSON. */
export interface OutboxEvent {
  kind: string;
  json: string;
}

export interface EventOutboxOptions {
  redis: HeraldRedis;
  bounds: SpillBounds;
  metrics: IngestMetrics;
  logger: Logger;
  /** Called after events were appended: the relay of this process publishes them now. */
  appended?: () => void;
  /** EVENTS_OUTBOX_WINDOW_MS: appends at least this far apart (0: one per turn). */
  windowMs?: number;
}

export class EventOutbox {
  private readonly log: Logger;
  private readonly window: WriteWindow;
  /** Entries of this window's appends, in order, and the appends waiting for them. */
  private entries: string[] = [];
  private waiting: Array<() => void> = [];
  private closed = false;

  constructor(private readonly opts: EventOutboxOptions) {
    this.log = opts.logger.child({ module: 'event-outbox' });
    this.window = new WriteWindow(opts.windowMs ?? 0, () => this.flush());
  }

  /**
   * Appends the events, in order, with the other appends of this window; resolves once Redis has
   * them (or refused them). Never throws (the step they describe has happened).
   */
  append(events: readonly OutboxEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    if (this.closed) return this.write(events.map(encodeEntry));
    for (const event of events) this.entries.push(encodeEntry(event));
    return new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      this.window.schedule();
    });
  }

  /** Append what waits now; later appends go to Redis one by one (shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    this.window.close();
    await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.entries.length === 0) return;
    const entries = this.entries;
    const waiting = this.waiting;
    this.entries = [];
    this.waiting = [];
    await this.write(entries);
    for (const resolve of waiting) resolve();
  }

  private async write(entries: readonly string[]): Promise<void> {
    const { metrics } = this.opts;
    try {
      const result = await spillExposures(this.opts.redis, entries, this.opts.bounds, EVENT_OUTBOX);
      metrics.outbox.inc({ outcome: 'appended' }, result.spilled);
      if (result.refused > 0) {
        metrics.outbox.inc({ outcome: 'refused' }, result.refused);
        this.log.error({ refused: result.refused }, 'the event outbox is full (is any ingest relaying it to Pub/Sub?); events refused');
      }
      if (result.expired > 0) {
        metrics.outbox.inc({ outcome: 'expired' }, result.expired);
        this.log.error({ expired: result.expired }, 'events older than EVENTS_OUTBOX_MAX_AGE_MS were never published; trimmed');
      }
      if (result.spilled > 0) this.opts.appended?.();
    } catch (err) {
      metrics.outbox.inc({ outcome: 'failed' }, entries.length);
      this.log.error({ err, events: entries.length }, 'appending events to the outbox failed; they are lost to analytics');
    }
  }
}

/** An outbox entry: `<kind> <json>` (the relay reads the kind without parsing the JSON). */
export function encodeEntry(e: OutboxEvent): string {
  return `${e.kind} ${e.json}`;
}

/** The kind and JSON of an outbox entry; null when it is not one. */
export function decodeEntry(entry: string): OutboxEvent | null {
  const space = entry.indexOf(' ');
  if (space <= 0) return null;
  return { kind: entry.slice(0, space), json: entry.slice(space + 1) };
}

const toEvent = (e: MessageEvent | LossEvent | WebPushEvent): OutboxEvent => ({ kind: e.kind, json: JSON.stringify(e) });

/** What a message event needs to know about the message besides the step. */
export interface MessageFacts {
  producer: string;
  category: string | null;
}

/** `<kind>:<messageId>`: one event per step of a message (an update per version). */
const messageEventId = (kind: MessageEventKind, messageId: string, suffix = ''): string => `${kind}:${messageId}${suffix}`;

/** What a `sent` event says of the message and the request (send-message.ts factsOf). */
export interface SentFacts extends MessageFacts {
  message: Message;
  /** Bytes of the payload's JSON. */
  size: number;
  /** The time asked for, when it was sent with `sendAt`. */
  scheduledFor: number | undefined;
}

/** What the send did: its recipients, and what the caps and replace keys took out. */
export interface SentOutcome {
  /** Users it went to (a category: its members at the send). */
  recipients: number;
  replaced: number;
  dropped: DroppedId[];
}

/** Expiry times as text: a batch's messages share theirs. */
const expiryTimes = new IsoTimes();

/** A string as JSON.stringify writes it. */
const str = (value: string): string => JSON.stringify(value);
/** A number as JSON.stringify writes it. */
const num = (value: number): string => (Number.isFinite(value) ? String(value) : 'null');

/**
 * The `sent` event's JSON (a MessageEvent), written member by member in the order the object
 * literal had, so it is what JSON.stringify of that object gave (test/sent-event-json.spec.ts
 * compares the two). Built as an object with its optional members spread in, and stringified,
 * it cost ~4.8 µs a message, 15 % of ingest's main thread in batches (docs/BENCHMARKS.md,
 * "The sent event written out").
 */
function sentJson(f: SentFacts, o: SentOutcome): string {
  const { message } = f;
  // createdAt is toISOString's form (newMessage): nothing to escape.
  let json =
    `{"eventId":${str(messageEventId('sent', message.id))},"kind":"sent","messageId":${str(message.id)},` +
    `"at":"${message.createdAt}","producer":${str(f.producer)},"category":${f.category === null ? 'null' : str(f.category)},` +
    `"recipients":${num(o.recipients)},"size":${num(f.size)},"replaced":${num(o.replaced)},"dropped":${num(o.dropped.length)},` +
    `"expiresAt":"${expiryTimes.iso(message.expiresAt)}"`;
  if (message.replaceKey) json += `,"replaceKey":${str(message.replaceKey)}`;
  if (f.scheduledFor !== undefined) json += `,"scheduledFor":"${new Date(f.scheduledFor).toISOString()}"`;
  return `${json}}`;
}

/** A `sent` event and one `dropped` event per id the caps pushed out to make room for it. */
export function sentEvents(f: SentFacts, o: SentOutcome): OutboxEvent[] {
  const events: OutboxEvent[] = [{ kind: 'sent', json: sentJson(f, o) }];
  if (o.dropped.length === 0) return events;
  const now = new Date().toISOString();
  for (const d of o.dropped) {
    const loss: LossEvent = {
      eventId: perUserEventId('dropped', d.messageId, d.userId),
      kind: 'dropped',
      messageId: d.messageId,
      userId: d.userId,
      category: null,
      at: now,
    };
    events.push(toEvent(loss));
  }
  return events;
}

/** A message accepted with `sendAt`: held until then. */
export function scheduledEvent(messageId: string, f: MessageFacts, scheduledFor: number): OutboxEvent {
  return toEvent({
    eventId: messageEventId('scheduled', messageId),
    kind: 'scheduled',
    messageId,
    at: new Date().toISOString(),
    producer: f.producer,
    category: f.category,
    scheduledFor: new Date(scheduledFor).toISOString(),
  });
}

/** A new body under the same id (PATCH). */
export function updatedEvent(messageId: string, f: MessageFacts, version: number, updatedAt: number, expiresAt: number, size: number): OutboxEvent {
  return toEvent({
    eventId: messageEventId('updated', messageId, `:${version}`),
    kind: 'updated',
    messageId,
    at: new Date(updatedAt).toISOString(),
    producer: f.producer,
    category: f.category,
    version,
    size,
    expiresAt: new Date(expiresAt).toISOString(),
  });
}

/** Recalled (DELETE), whether it had been sent or was still scheduled. */
export function recalledEvent(messageId: string, f: MessageFacts, at: number): OutboxEvent {
  return toEvent({ eventId: messageEventId('recalled', messageId), kind: 'recalled', messageId, at: new Date(at).toISOString(), producer: f.producer, category: f.category });
}

export interface WebPushOutcome {
  messageId: string;
  userId: string;
  subscriptionId: string;
  status: WebPushStatus;
  httpStatus?: number;
  /** `throttled`: which 429 of the job this is (each is its own event). */
  attempt?: number;
}

/**
 * A Web Push outcome (webpush/): its id derived from (message, user, subscription, status, and a
 * throttle's number), so a job run again after a crash makes the same events.
 */
export function webPushEvent(o: WebPushOutcome): OutboxEvent {
  const which = `${o.userId}|${o.subscriptionId}|${o.status}${o.attempt === undefined ? '' : `|${o.attempt}`}`;
  const event: WebPushEvent = {
    eventId: perUserEventId(WEBPUSH_EVENT_KIND, o.messageId, which),
    kind: WEBPUSH_EVENT_KIND,
    messageId: o.messageId,
    userId: o.userId,
    subscriptionId: o.subscriptionId,
    status: o.status,
    ...(o.httpStatus === undefined ? {} : { httpStatus: o.httpStatus }),
    at: new Date().toISOString(),
  };
  return toEvent(event);
}
