/**
 * Reads one phase's exposure events back and checks that every eventId came exactly once;
 * `publishTime - deliveredAt` is an event's publish latency, record() to Pub/Sub ack.
 */
import type { Message, PubSub } from '@google-cloud/pubsub';
import { unpackEvents } from '@herald/pubsub';
import type { ExposureEvent } from '@herald/types';
import { latencyOf, newHistogram } from '../../report';
import { watch } from '../../watch';

/**
 * duplicates: an eventId under another Pub/Sub message id (published twice); redeliveries: the same
 * message again (the subscriber's, not a publisher fault); strays: not the phase's; times in epoch µs.
 */
export type Tally = Awaited<ReturnType<typeof tallyExposures>>;

/** `events` from `<topic>-tally`, those whose userId starts with `prefix` being the phase's. */
export interface TallyOf {
  topic: string;
  prefix: string;
  events: number;
  signal: AbortSignal;
  progress(line: string): void;
}

/** After the last expected event, listen this long for duplicates; give up when nothing arrives for STALL_MS. */
const QUIET_MS = 500;
const STALL_MS = 15_000;

export async function tallyExposures(pubsub: PubSub, phase: TallyOf) {
  const subscription = pubsub.subscription(`${phase.topic}-tally`, { flowControl: { maxMessages: 5000, allowExcessMessages: false } });
  const eventIds = new Set<string>();
  const messageIds = new Set<string>();
  const histogram = newHistogram();
  const tally = { duplicates: 0, redeliveries: 0, strays: 0, firstRecordedUs: Infinity, lastRecordedUs: 0, lastPublishedUs: 0 };
  let lastArrival = Date.now();
  let completeAt: number | undefined;
  let failure: Error | undefined;

  subscription.on('message', (message: Message) => {
    message.ack();
    lastArrival = Date.now();
    if (messageIds.has(message.id)) return void tally.redeliveries++;
    messageIds.add(message.id);
    const unpacked = unpackEvents(message.data, message.attributes);
    if (!unpacked.ok) return void tally.strays++;
    const publishedUs = Number(message.publishTime.getFullTime() / 1000n);
    for (const data of unpacked.events) count(data, publishedUs);
  });
  subscription.on('error', (err: Error) => (failure ??= err));

  /** One event read back (a message holds one or several), published at `publishedUs`. */
  const count = (data: Buffer, publishedUs: number) => {
    let event: ExposureEvent | undefined;
    try {
      event = JSON.parse(data.toString()) as ExposureEvent;
    } catch {
      // not an exposure event: nothing of ours
    }
    if (typeof event?.userId !== 'string' || !event.userId.startsWith(phase.prefix)) return void tally.strays++;
    if (eventIds.has(event.eventId)) return void tally.duplicates++;
    eventIds.add(event.eventId);
    const recordedUs = Date.parse(event.deliveredAt) * 1000;
    histogram.recordValue(Math.max(0, Math.round(publishedUs - recordedUs)));
    tally.firstRecordedUs = Math.min(tally.firstRecordedUs, recordedUs);
    tally.lastRecordedUs = Math.max(tally.lastRecordedUs, recordedUs);
    tally.lastPublishedUs = Math.max(tally.lastPublishedUs, publishedUs);
    if (eventIds.size === phase.events) completeAt = Date.now();
  };

  try {
    const poll = async () => {
      if (failure) throw failure;
      const done = completeAt !== undefined && Date.now() - Math.max(completeAt, lastArrival) >= QUIET_MS;
      return { done, progress: messageIds.size, line: `subscriber: ${eventIds.size}/${phase.events} events read back` };
    };
    await watch(poll, { intervalMs: 50, stallMs: STALL_MS, signal: phase.signal, report: phase.progress });
  } finally {
    subscription.removeAllListeners('message');
    await subscription.close();
  }
  return { ...tally, delivered: eventIds.size, latency: latencyOf(histogram) };
}
