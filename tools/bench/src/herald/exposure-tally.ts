/**
 * Reads the exposure events of one phase back from a subscription created before they were
 * published, and checks them: every eventId exactly once. It also yields the timing the events
 * carry: `deliveredAt` is stamped by the gateway in ExposurePublisher.record(), `publishTime` by
 * Pub/Sub when it accepted the publish, so `publishTime - deliveredAt` is the publish latency
 * (record() to Pub/Sub ack) of every single event, measured without touching the gateway.
 */
import type { Message, PubSub } from '@google-cloud/pubsub';
import type { ExposureEvent } from '@herald/types';
import { LatencyRecorder, type LatencySummary } from '../stats';

export interface TallyOptions {
  /** Only events whose userId starts with this belong to the phase; others are counted as strays. */
  userPrefix: string;
  expected: number;
  /** After the last expected event, keep listening this long for duplicates. */
  quietMs: number;
  /** Give up when nothing arrives for this long. */
  stallMs: number;
  signal: AbortSignal;
  progress(line: string): void;
}

export interface Tally {
  /** Distinct eventIds of the phase. */
  delivered: number;
  /** The same eventId under another Pub/Sub message id: published twice. */
  duplicates: number;
  /** The same Pub/Sub message delivered again (a subscriber-side redelivery, not a publisher fault). */
  redeliveries: number;
  strays: number;
  latency: LatencySummary;
  /** Epoch µs: first and last record() of the phase, last Pub/Sub accept. */
  firstRecordedUs: number;
  lastRecordedUs: number;
  lastPublishedUs: number;
}

const PROGRESS_EVERY_MS = 2000;

export async function tallyExposures(pubsub: PubSub, subscriptionName: string, opts: TallyOptions): Promise<Tally> {
  const subscription = pubsub.subscription(subscriptionName, {
    flowControl: { maxMessages: 5000, allowExcessMessages: false },
  });
  const eventIds = new Set<string>();
  const messageIds = new Set<string>();
  const latency = new LatencyRecorder();
  const tally: Omit<Tally, 'latency' | 'delivered'> = {
    duplicates: 0,
    redeliveries: 0,
    strays: 0,
    firstRecordedUs: Infinity,
    lastRecordedUs: 0,
    lastPublishedUs: 0,
  };
  let lastArrival = Date.now();
  let completeAt: number | undefined;
  let failure: Error | undefined;

  subscription.on('message', (message: Message) => {
    message.ack();
    lastArrival = Date.now();
    if (messageIds.has(message.id)) {
      tally.redeliveries++;
      return;
    }
    messageIds.add(message.id);
    let event: ExposureEvent;
    try {
      event = JSON.parse(message.data.toString()) as ExposureEvent;
    } catch {
      tally.strays++; // not an exposure event: nothing of ours
      return;
    }
    if (typeof event.userId !== 'string' || !event.userId.startsWith(opts.userPrefix)) {
      tally.strays++;
      return;
    }
    if (eventIds.has(event.eventId)) {
      tally.duplicates++;
      return;
    }
    eventIds.add(event.eventId);
    const recordedUs = Date.parse(event.deliveredAt) * 1000;
    const publishedUs = Number(message.publishTime.getFullTime() / 1000n);
    latency.record(publishedUs - recordedUs);
    tally.firstRecordedUs = Math.min(tally.firstRecordedUs, recordedUs);
    tally.lastRecordedUs = Math.max(tally.lastRecordedUs, recordedUs);
    tally.lastPublishedUs = Math.max(tally.lastPublishedUs, publishedUs);
    if (eventIds.size === opts.expected) completeAt = Date.now();
  });
  subscription.on('error', (err: Error) => (failure ??= err));

  try {
    let lastReport = Date.now();
    for (;;) {
      opts.signal.throwIfAborted();
      if (failure) throw failure;
      const now = Date.now();
      if (completeAt !== undefined && now - Math.max(completeAt, lastArrival) >= opts.quietMs) break;
      if (now - lastArrival >= opts.stallMs) {
        opts.progress(`subscriber: nothing new for ${opts.stallMs} ms; stopping at ${eventIds.size}/${opts.expected}`);
        break;
      }
      if (now - lastReport >= PROGRESS_EVERY_MS) {
        opts.progress(`subscriber: ${eventIds.size}/${opts.expected} events read back`);
        lastReport = now;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    subscription.removeAllListeners('message');
    await subscription.close();
  }
  return { ...tally, delivered: eventIds.size, latency: latency.summary() };
}
