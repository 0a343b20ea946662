/**
 * The event relay's window (EVENTS_RELAY_WINDOW_MS), on a real redis-server: events appended one
 * after another go to Pub/Sub in rounds at least a window apart, every one once and in order; a
 * round that read a full batch is followed at once by the next; close() does not wait for the
 * window. The publisher here records its calls and their times: what is tested is when the
 * relay makes them (the publish itself, on a real emulator, is events.spec.ts's).
 */
import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { createLogger } from '@herald/logger';
import { unpackEvents, type OutgoingMessage } from '@herald/pubsub';
import { closeRedis, createRedis, EVENT_OUTBOX, type HeraldRedis } from '@herald/redis';
import { startRedisServer, waitFor, type RedisServer } from '@herald/testing';
import { EventOutbox } from '../src/events/event-outbox';
import { EventRelay } from '../src/events/event-relay';
import { createIngestMetrics } from '../src/metrics';

let server: RedisServer;
let redis: HeraldRedis;
beforeAll(async () => {
  server = await startRedisServer();
  redis = createRedis({ REDIS_URL: server.url, REDIS_CLUSTER_NODES: undefined }, 'commands', 'relay-window');
});
afterAll(async () => {
  await closeRedis(redis);
  await server.stop();
});
beforeEach(async () => {
  await redis.del(EVENT_OUTBOX.key);
});

const logger = createLogger({ app: 'ingest-test', level: 'silent' });

/** An outbox and its relay, the relay woken by each append as in the app; calls recorded. */
function relayed(windowMs: number, batchMax = 1000, start = true) {
  const calls: Array<{ at: number; events: string[] }> = [];
  const metrics = createIngestMetrics(new Registry());
  const publisher = {
    publish: async (messages: readonly OutgoingMessage[]) => {
      // Packed by kind (@herald/pubsub event-messages.ts), read back as a subscriber reads them.
      const events = messages.flatMap((m) => {
        const unpacked = unpackEvents(Buffer.from(m.data), m.attributes ?? {});
        if (!unpacked.ok) throw new Error(unpacked.reason);
        return unpacked.events.map(String);
      });
      calls.push({ at: performance.now(), events });
    },
  };
  const relay = new EventRelay({ redis, publisher, consumer: `c-${windowMs}-${batchMax}`, batchMax, eventsPerMessage: 100, compression: 'none', claimIdleMs: 60_000, pollMs: 60_000, windowMs, metrics, logger });
  const outbox = new EventOutbox({ redis, bounds: { maxEvents: 1_000_000, maxAgeMs: 0 }, metrics, logger, appended: () => relay.wake(), windowMs: 0 });
  if (start) relay.start();
  const published = () => calls.flatMap((c) => c.events);
  return { calls, outbox, relay, published };
}

const sent = (n: number) => ({ kind: 'sent', json: `{"n":${n}}` });

it('publishes events appended one after another in rounds a window apart, each once, in order', async () => {
  const windowMs = 300;
  const { calls, outbox, relay, published } = relayed(windowMs);
  try {
    // A first round (it also makes the consumer group), then the measured ones.
    await outbox.append([sent(-1)]);
    await waitFor(() => calls.length === 1, { what: 'the first round' });
    const expected: string[] = ['{"n":-1}'];
    for (let n = 0; n < 20; n++) {
      await outbox.append([sent(n)]);
      expected.push(`{"n":${n}}`);
      // Appends spread over time, as requests come (not a wait for a condition).
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await waitFor(() => published().length >= expected.length, { timeoutMs: 10_000, what: 'every event published' });
    expect(published()).toEqual(expected);
    // Rounds start a window apart at least, so the calls after the first do too, give or take
    // the read before each call (50 ms, far more than a read on loopback): no more calls than
    // their span allows. Without the window there would be a call every append or two.
    const measured = calls.slice(1);
    const span = measured[measured.length - 1].at - measured[0].at;
    expect(measured.length).toBeLessThanOrEqual(Math.floor((span + 50) / windowMs) + 1);
    expect(measured.length).toBeLessThan(20);
  } finally {
    await relay.close();
  }
});

it('goes on at once after a round that read a full batch; close() does not wait for the window', async () => {
  const { calls, outbox, relay, published } = relayed(60_000, 5, false);
  try {
    await outbox.append(Array.from({ length: 12 }, (_, i) => sent(i)));
    relay.start();
    // Three rounds, back to back: a window of 60 s between them would outlast the test.
    await waitFor(() => published().length >= 12, { timeoutMs: 10_000, what: 'the 12 events' });
    expect(calls.map((c) => c.events.length)).toEqual([5, 5, 2]);
  } finally {
    // The last round read less than a batch: the relay now waits out its window, or a close.
    await relay.close();
  }
});
