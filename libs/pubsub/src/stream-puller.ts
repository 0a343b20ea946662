/**
 * Pulls one subscription over `StreamingPull` streams and hands out each message with `ack()` and
 * `nack()`: what a consumer that settles every message itself needs of the client library's
 * `Subscription`, without its per-message bookkeeping (a `Message` object with a `PreciseDate`, a
 * lease entry and a modAck on receipt, its ack queue's promises, a histogram), which cost the
 * exposure-consumer ~20 µs per event (docs/BENCHMARKS.md, "The consumer's own pull").
 *
 * - **Channel**: the gRPC channel of the library's own generated `SubscriberClient`, made from the
 *   PubSub client's configuration (endpoint, TLS, Google credentials, or the emulator's plain
 *   channel; library-channel.ts), as BatchPublisher does for publishing. Requests and
 *   responses are encoded with the library's own protos.
 * - **Flow control**: at most `maxOutstanding` messages are handed out and not settled, or as
 *   many of what `weigh` counts (a consumer of packed events counts events: event-messages.ts).
 *   The server is asked for no more than its share of messages per stream
 *   (`max_outstanding_messages`); what comes beyond the bound waits here, its lease extended, and
 *   the streams are paused (gRPC's flow control then holds the rest on the server) until there is
 *   room. A message is handed out whenever less than the bound is, so one heavier than the whole
 *   bound still goes (alone).
 * - **Leases**: every message is leased for `ackDeadlineSeconds` by its stream; one held (or
 *   waiting) longer than a third of that has its lease extended, every third of it, until settled.
 * - **Settling**: acks and nacks (deadline 0: redelivered soon) leave together, one unary call per
 *   kind every `flushMs` or at 2,500 ids (settle-calls.ts). A failed ack is reported through
 *   'debug' and left: the message comes again and the consumer stores it once.
 * - **Streams** (pull-streams.ts): opened again after a status the library also retries; any
 *   other status (NOT_FOUND: the subscription was deleted; PERMISSION_DENIED) stops every stream:
 *   'error' with the status, then 'close'.
 *
 * Events: 'message' (PulledMessage), 'error' (a status the puller does not retry), 'close' (it
 * stopped by itself), 'debug' (an Error worth a debug line: a failed ack, a retried stream).
 */
import { EventEmitter } from 'node:events';
import type { PubSub } from '@google-cloud/pubsub';
import type { google } from '@google-cloud/pubsub/build/protos/protos';
import { libraryChannel, type LibraryChannel } from './library-channel';
import { PullStreams } from './pull-streams';
import { SETTLE_MAX_IDS, SettleCalls, whenCalled } from './settle-calls';

/** A message handed out: settle it once, with ack() (done) or nack() (deliver it again). */
export interface PulledMessage {
  readonly id: string;
  readonly data: Buffer;
  readonly attributes: Readonly<Record<string, string>>;
  ack(): void;
  nack(): void;
}

export interface StreamPullerOptions {
  /** Streams to open (the library's default is 5). */
  streams: number;
  /** Messages handed out and not settled, at most (or their weight, with `weigh`). */
  maxOutstanding: number;
  /** What one message counts for against `maxOutstanding`, from its attributes (a whole number; anything else counts 1). @default 1 each */
  weigh?: (attributes: Readonly<Record<string, string>>) => number;
  /** The lease of each delivery, and of each extension. */
  ackDeadlineSeconds: number;
  /** Acks and nacks wait this long at most to leave together. @default 100 */
  flushMs?: number;
}

class Pulled implements PulledMessage {
  constructor(
    private readonly puller: StreamPuller,
    readonly ackId: string,
    readonly id: string,
    readonly data: Buffer,
    readonly attributes: Readonly<Record<string, string>>,
    readonly weight: number,
  ) {}
  ack(): void {
    this.puller.settle(this, true);
  }
  nack(): void {
    this.puller.settle(this, false);
  }
}

export class StreamPuller extends EventEmitter {
  private link?: LibraryChannel;
  private calls?: SettleCalls;
  private streams?: PullStreams;
  /** Handed out and not settled: ack id -> when it arrived (or was last extended), ms. */
  private readonly held = new Map<string, number>();
  /** Arrived past the bound, oldest first, not handed out yet. */
  private waiting: Pulled[] = [];
  /** The weight of what is held (handed out or waiting), and of what waits. */
  private heldWeight = 0;
  private waitingWeight = 0;
  private acks: string[] = [];
  private nacks: string[] = [];
  private flushTimer?: NodeJS.Timeout;
  private leaseTimer?: NodeJS.Timeout;
  private running = false;
  private closing?: Promise<void>;
  private readonly idle = new Set<() => void>();

  constructor(
    private readonly pubsub: PubSub,
    private readonly subscriptionName: string,
    private readonly opts: StreamPullerOptions,
  ) {
    super();
    for (const name of ['streams', 'maxOutstanding', 'ackDeadlineSeconds'] as const) {
      if (!Number.isInteger(opts[name]) || opts[name] < 1) throw new TypeError(`StreamPuller: ${name} must be a positive integer`);
    }
  }

  /** True from open() until close() or a status it does not retry. */
  get isOpen(): boolean {
    return this.running;
  }

  /** Messages held and not settled: handed out, or waiting at the bound. */
  get outstanding(): number {
    return this.held.size;
  }

  /** Opens the streams; rejects when the channel cannot be made. */
  async open(): Promise<void> {
    const link = await libraryChannel(this.pubsub, { subscription: this.subscriptionName });
    // close() came while the channel was being made.
    if (this.closing) return link.close();
    this.link = link;
    this.calls = new SettleCalls(link, (err) => this.emit('debug', err));
    this.running = true;
    const { streams, maxOutstanding, ackDeadlineSeconds } = this.opts;
    this.streams = new PullStreams(link, { count: streams, maxOutstanding, ackDeadlineSeconds }, {
      received: (response) => this.received(response),
      failed: (err) => {
        this.emit('error', err);
        void this.stop().then(() => this.emit('close'));
      },
      debug: (err) => this.emit('debug', err),
    });
    this.streams.open();
    const leaseMs = (ackDeadlineSeconds * 1000) / 3;
    this.leaseTimer = setInterval(() => this.extendLeases(leaseMs), leaseMs).unref();
  }

  private received(response: google.pubsub.v1.StreamingPullResponse): void {
    const now = Date.now();
    const { weigh, maxOutstanding } = this.opts;
    for (const r of response.receivedMessages) {
      const m = r.message;
      if (!r.ackId || !m) continue;
      const attributes = m.attributes ?? {};
      const weighed = weigh ? weigh(attributes) : 1;
      const weight = Number.isInteger(weighed) && weighed > 1 ? weighed : 1;
      const message = new Pulled(this, r.ackId, m.messageId ?? '', (m.data as Buffer) ?? Buffer.alloc(0), attributes, weight);
      const handedOut = this.heldWeight - this.waitingWeight;
      // A repeated ack id (a redelivery while still held) replaces its entry; the weight is the message's once.
      if (!this.held.has(message.ackId)) this.heldWeight += weight;
      this.held.set(message.ackId, now);
      if (handedOut >= maxOutstanding || this.waiting.length > 0) {
        this.waiting.push(message);
        this.waitingWeight += weight;
      } else this.emit('message', message);
    }
    if (this.heldWeight >= maxOutstanding) this.streams?.pause(true);
  }

  /** Called by a message: settle it once. */
  settle(message: Pulled, ok: boolean): void {
    // Once: a second settle, or one after close() nacked what was held, finds it gone.
    if (!this.held.delete(message.ackId)) return;
    this.heldWeight -= message.weight;
    (ok ? this.acks : this.nacks).push(message.ackId);
    if (this.acks.length >= SETTLE_MAX_IDS || this.nacks.length >= SETTLE_MAX_IDS) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), this.opts.flushMs ?? 100);
    // Room again: hand out what waits, then let the streams go on.
    while (this.waiting.length > 0 && this.heldWeight - this.waitingWeight < this.opts.maxOutstanding) {
      const next = this.waiting.shift()!;
      this.waitingWeight -= next.weight;
      if (this.running) this.emit('message', next);
      else next.nack();
    }
    if (this.streams?.paused && this.heldWeight < this.opts.maxOutstanding) this.streams.pause(false);
    if (this.held.size === 0) for (const resolve of this.idle) resolve();
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const [acks, nacks] = [this.acks, this.nacks];
    this.acks = [];
    this.nacks = [];
    this.calls?.ack(acks);
    this.calls?.modify(nacks, 0);
  }

  /** Extend the lease of every message held (or waiting) for `olderThanMs` or more. */
  private extendLeases(olderThanMs: number): void {
    const now = Date.now();
    const due: string[] = [];
    for (const [ackId, at] of this.held) {
      if (now - at < olderThanMs) continue;
      due.push(ackId);
      this.held.set(ackId, now);
    }
    this.calls?.modify(due, this.opts.ackDeadlineSeconds);
  }

  /** Stop the streams and timers (the held messages may still be settled). */
  private async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.streams?.stop();
    // What waits was never handed out: deliver it again, elsewhere.
    const waiting = this.waiting.splice(0);
    this.waitingWeight = 0;
    for (const message of waiting) message.nack();
  }

  /**
   * Stop pulling, wait up to `timeoutMs` for the messages handed out to be settled, nack the rest,
   * send every settle and close the channel. Idempotent.
   */
  close(timeoutMs = 10_000): Promise<void> {
    this.closing ??= this.shutdown(timeoutMs);
    return this.closing;
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    await this.stop();
    if (this.held.size > 0) await whenCalled(this.idle, timeoutMs);
    clearInterval(this.leaseTimer);
    this.nacks.push(...this.held.keys());
    this.held.clear();
    this.heldWeight = 0;
    this.flush();
    await this.calls?.drained();
    await this.link?.close();
    this.link = undefined;
    this.calls = undefined;
  }
}
