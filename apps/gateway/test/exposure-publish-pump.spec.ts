/**
 * The publish stage on the real Pub/Sub emulator: at most the bound queued or in flight while
 * Pub/Sub is frozen, everything published once it is back; a permanent error (the topic does not
 * exist) is classified, counted, and pauses publishing for everyone reading the shared backoff;
 * events go in batches, one publish call each (full ones at once, the rest after the wait);
 * close() is idempotent and stops publishing; packed messages go compressed when asked.
 */
import { BatchPublisher, COMPRESS_MIN_BYTES, EVENT_ENCODING_ATTRIBUTE, eventCount, type EventCompression, type OutgoingMessage } from '@herald/pubsub';
import { waitFor } from '@herald/testing';
import { NON_RETRYABLE_PAUSE_MS } from '../src/exposure/publish-errors';
import { PublishPump } from '../src/exposure/publish-pump';
import { UNLOGGED, type Pending } from '../src/exposure/stage';
import { newMetrics, silent, startTopic, type Metrics, type TopicRig } from './exposure-stage-rig';

const BUFFER_MAX = 5;

let rig: TopicRig;
const pumps: PublishPump[] = [];

beforeAll(async () => {
  rig = await startTopic();
}, 60_000);

afterAll(async () => {
  await Promise.all(pumps.map((p) => p.close()));
  await rig?.close();
}, 30_000);

function pump(
  publisher: Pick<BatchPublisher, 'publish'>,
  m: Metrics,
  settled: Pending[],
  drained: () => void = () => undefined,
  sizes: { bufferMax: number; batchMax: number; batchWaitMs: number; compression?: EventCompression } = { bufferMax: BUFFER_MAX, batchMax: 2, batchWaitMs: 5 },
): PublishPump {
  const p = new PublishPump({
    publisher,
    eventsPerMessage: 3,
    compression: 'none',
    ...sizes,
    now: Date.now,
    ...m,
    logger: silent,
    settled: (event) => settled.push(event),
    drained,
  });
  pumps.push(p);
  return p;
}

const event = (tag: string, n: number): Pending => ({ data: JSON.stringify({ tag, n }), batch: UNLOGGED, count: 1 });

it('holds at most the bound while Pub/Sub is frozen, and publishes it all once Pub/Sub is back', async () => {
  const m = newMetrics();
  const settled: Pending[] = [];
  let drained = 0;
  const p = pump(rig.topic, m, settled, () => drained++);
  rig.server.pause();
  try {
    for (let n = 0; n < BUFFER_MAX; n++) p.push(event('bound', n));
    expect(p.full).toBe(true);
    expect(p.held).toBe(BUFFER_MAX);
  } finally {
    rig.server.resume();
  }
  await waitFor(() => drained > 0 && p.held === 0, { timeoutMs: 30_000, what: 'the pump drained' });
  expect(p.full).toBe(false);
  expect(settled).toHaveLength(BUFFER_MAX);
  expect(await m.outcome('published')).toBe(BUFFER_MAX);
  await waitFor(() => rig.received.filter((r) => r.includes('"bound"')).length === BUFFER_MAX, { timeoutMs: 30_000, what: 'all received' });
}, 60_000);

it('classifies a permanent error, keeps the events, and pauses publishing (memory and replay alike)', async () => {
  const m = newMetrics();
  const settled: Pending[] = [];
  const missing = new BatchPublisher(rig.pubsub, 'never-created');
  const p = pump(missing, m, settled);
  for (let n = 0; n < 3; n++) p.push(event('missing', n));
  await waitFor(async () => (await m.outcome('retried')) === 3, { timeoutMs: 30_000, what: 'every event failed once' });
  expect(await m.value('herald_exposures_publish_errors_total', 'status="NOT_FOUND",retryable="false"')).toBeGreaterThan(0);
  // The failed events went back to the queue; the pause is the permanent one, shared with the
  // replay (which waits pauseLeft() after a failed batch).
  await waitFor(() => p.held === 3, { what: 'the failed events queued again' });
  expect(p.pauseLeft()).toBeGreaterThan(NON_RETRYABLE_PAUSE_MS - 10_000);
  expect(settled).toEqual([]);

  // A replayed batch that fails too is returned, not counted as published, and keeps the pause.
  const failed = await p.publish([event('missing', 9)], true);
  expect(failed).toHaveLength(1);
  expect(await m.outcome('published')).toBe(0);
  // (Batches that fail concurrently go back in the order they failed.)
  expect(p.takeAll().map((e) => (JSON.parse(String(e.data)) as { n: number }).n).sort()).toEqual([0, 1, 2]);
  expect(p.held).toBe(0);

  const closing = p.close();
  expect(p.close()).toBe(closing);
  await closing;
}, 60_000);

it('publishes full batches at once and the rest after the wait, one call per batch, eventsPerMessage to a message', async () => {
  const m = newMetrics();
  const settled: Pending[] = [];
  const calls: number[] = [];
  const messagesPerCall: number[] = [];
  const counting: Pick<BatchPublisher, 'publish'> = {
    publish: (messages) => {
      calls.push(messages.reduce((events, message) => events + eventCount(message.attributes ?? {}), 0));
      messagesPerCall.push(messages.length);
      return rig.topic.publish(messages);
    },
  };
  const p = pump(counting, m, settled, undefined, { bufferMax: 1000, batchMax: 100, batchWaitMs: 200 });
  for (let n = 0; n < 250; n++) p.push(event('batched', n));
  // The two full batches go in the next turn (setImmediate, before any timer); the last 50 wait.
  await new Promise((resolve) => setImmediate(resolve));
  expect(calls).toEqual([100, 100]);
  expect(p.held).toBe(250);
  await waitFor(() => settled.length === 250, { what: 'the rest published after the wait' });
  expect(calls).toEqual([100, 100, 50]);
  // 3 events to a message (the pump's eventsPerMessage here): 33 messages of 3 and 1 of 1 per 100.
  expect(messagesPerCall).toEqual([34, 34, 17]);
  await waitFor(() => rig.received.filter((r) => r.includes('"batched"')).length === 250, { timeoutMs: 30_000, what: 'all received' });
}, 60_000);

it('counts packed events as events: batches of at most batchMax events, held and the bound in events, one message each', async () => {
  const m = newMetrics();
  const settled: Pending[] = [];
  const calls: number[] = [];
  const counting: Pick<BatchPublisher, 'publish'> = {
    publish: (messages) => {
      calls.push(messages.reduce((events, message) => events + eventCount(message.attributes ?? {}), 0));
      return rig.topic.publish(messages);
    },
  };
  const p = pump(counting, m, settled, undefined, { bufferMax: 1000, batchMax: 100, batchWaitMs: 200 });
  const packed = (n: number): Pending => ({ data: [0, 1, 2].map((i) => JSON.stringify({ tag: 'packed', n, i })).join('\n'), batch: UNLOGGED, count: 3 });
  for (let n = 0; n < 70; n++) p.push(packed(n));
  expect(p.held).toBe(210);
  expect(p.full).toBe(false);
  // Two full batches of 33 Pendings (99 events: a 34th would pass 100) go at once; 4 Pendings wait.
  await new Promise((resolve) => setImmediate(resolve));
  expect(calls).toEqual([99, 99]);
  await waitFor(() => settled.length === 70, { what: 'the rest published after the wait' });
  expect(calls).toEqual([99, 99, 12]);
  expect(p.held).toBe(0);
  expect(await m.outcome('published')).toBe(210);
  await waitFor(() => rig.received.filter((r) => r.includes('"packed"')).length === 210, { timeoutMs: 30_000, what: 'all received' });
}, 60_000);

it('compresses packed messages when asked (EVENTS_PUBSUB_COMPRESSION): smaller data, the same events read back', async () => {
  const m = newMetrics();
  const settled: Pending[] = [];
  const sent: OutgoingMessage[] = [];
  const capturing: Pick<BatchPublisher, 'publish'> = {
    publish: (messages) => {
      sent.push(...messages);
      return rig.topic.publish(messages);
    },
  };
  const p = pump(capturing, m, settled, undefined, { bufferMax: 1000, batchMax: 30, batchWaitMs: 20, compression: 'deflate' });
  // Three to a message (the pump's eventsPerMessage), each message past COMPRESS_MIN_BYTES.
  const pad = 'x'.repeat(Math.ceil(COMPRESS_MIN_BYTES / 3));
  for (let n = 0; n < 30; n++) p.push({ data: JSON.stringify({ tag: 'deflated', n, pad }), batch: UNLOGGED, count: 1 });
  await waitFor(() => settled.length === 30, { what: 'all published' });
  expect(sent).toHaveLength(10);
  for (const message of sent) {
    expect(message.attributes).toEqual({ events: '3', [EVENT_ENCODING_ATTRIBUTE]: 'deflate' });
    expect(message.data.length).toBeLessThan(COMPRESS_MIN_BYTES / 4);
  }
  await waitFor(() => rig.received.filter((r) => r.includes('"deflated"')).length === 30, { timeoutMs: 30_000, what: 'all received' });
  const read = rig.received.filter((r) => r.includes('"deflated"')).map((r) => (JSON.parse(r) as { n: number; pad: string }));
  expect(read.map((e) => e.n).sort((a, b) => a - b)).toEqual([...Array(30).keys()]);
  expect(read.every((e) => e.pad === pad)).toBe(true);
}, 60_000);
