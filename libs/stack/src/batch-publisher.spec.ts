/**
 * @herald/pubsub's BatchPublisher against a real emulator, Google's where installed and ours: it
 * stores what one call publishes, attributes included, or refuses it with the gRPC status the
 * gateway's publish pump classifies.
 */
import { PubSub, v1, type Message, type Subscription } from '@google-cloud/pubsub';
import { BatchPublisher, PUBLISH_CALLS_MAX, type OutgoingMessage } from '@herald/pubsub';
import { ensureSubscription, googlePubSubEmulatorInstalled, pubsubClientOptions, startPubSub, type PubSubKind, type RunningPubSub } from './pubsub';
import { waitFor } from './wait';

process.env.METADATA_SERVER_DETECTION = 'none';

const MESSAGES: OutgoingMessage[] = [
  { data: '{"eventId":"e1"}' },
  { data: `{"eventId":"e2","userId":"${'ü'.repeat(200)}"}`, attributes: { kind: 'opened' } },
  { data: '', attributes: { kind: 'expired', 'x-ä': 'ö' } },
];

/** Reads `subscription` until it has every one of `sent`, then checks it got exactly those (each once: a set). */
async function expectReadBack(subscription: Subscription, sent: readonly string[]): Promise<void> {
  const received = new Set<string>();
  subscription.on('message', (m: Message) => {
    received.add(m.data.toString());
    m.ack();
  });
  await waitFor(() => received.size >= sent.length, { timeoutMs: 20_000, what: 'every message' });
  await subscription.close();
  expect([...received].sort()).toEqual([...sent].sort());
}

const kinds: PubSubKind[] = googlePubSubEmulatorInstalled() ? ['herald', 'google'] : ['herald'];

describe.each(kinds)('BatchPublisher on the %s emulator', (kind) => {
  let stop: () => Promise<void>;
  let client: PubSub;
  let publisher: BatchPublisher;
  let emulator: RunningPubSub;

  beforeAll(async () => {
    emulator = await startPubSub({ kind, projectId: 'batch-publisher-test' });
    client = new PubSub(pubsubClientOptions(emulator.emulatorHost, emulator.projectId));
    stop = async () => {
      await publisher?.close();
      await client.close();
      await emulator.stop();
    };
    publisher = new BatchPublisher(client, 'events');
  }, 60_000);
  afterAll(() => stop?.());

  test('one call stores every message of the batch, with its attributes', async () => {
    const subscription = await ensureSubscription(client, 'events', 'events-all', 30);
    await publisher.publish(MESSAGES);
    const received: Message[] = [];
    subscription.on('message', (m: Message) => {
      received.push(m);
      m.ack();
    });
    await waitFor(() => received.length >= MESSAGES.length, { timeoutMs: 10_000, what: 'the batch' });
    await subscription.close();
    const got = received.map((m) => ({ data: m.data.toString(), attributes: { ...m.attributes } }));
    expect(got.sort((a, b) => a.data.localeCompare(b.data))).toEqual(
      MESSAGES.map((m) => ({ data: String(m.data), attributes: m.attributes ?? {} })).sort((a, b) => a.data.localeCompare(b.data)),
    );
  });

  test('more than one call holds (1,000 messages a call) goes as several calls, every message stored', async () => {
    const subscription = await ensureSubscription(client, 'events', 'events-split', 30);
    const many = Array.from({ length: 2_500 }, (_, i): OutgoingMessage => ({ data: `split-${i}` }));
    await publisher.publish(many);
    await expectReadBack(subscription, many.map((m) => String(m.data)));
  }, 30_000);

  test('calls one after the other reuse one request buffer; larger and smaller requests and calls at once all arrive intact', async () => {
    const subscription = await ensureSubscription(client, 'events', 'events-reuse', 30);
    const batch = (name: string, count: number, size: number): OutgoingMessage[] =>
      Array.from({ length: count }, (_, i) => ({ data: `${name}-${i}-${'x'.repeat(size)}` }));
    const allocations = jest.spyOn(Buffer, 'allocUnsafeSlow');
    const sent: OutgoingMessage[] = [];
    try {
      // One after the other, about the same size: the first call's buffer serves the rest.
      for (let n = 0; n < 4; n++) {
        const messages = batch(`same${n}`, 200, 100);
        await publisher.publish(messages);
        sent.push(...messages);
      }
      expect(allocations.mock.calls.length).toBeLessThanOrEqual(1);
      // A larger request, then a smaller one into the larger buffer (its tail is the larger one's bytes).
      for (const [name, count, size] of [['large', 300, 300], ['small', 3, 1]] as const) {
        const messages = batch(name, count, size);
        await publisher.publish(messages);
        sent.push(...messages);
      }
      // Calls in flight together: each has its own buffer.
      const together = ['a', 'b', 'c'].map((name) => batch(`together-${name}`, 50, 20));
      await Promise.all(together.map((messages) => publisher.publish(messages)));
      sent.push(...together.flat());
    } finally {
      allocations.mockRestore();
    }
    await expectReadBack(subscription, sent.map((m) => String(m.data)));
  }, 30_000);

  test(`at most ${PUBLISH_CALLS_MAX} calls in flight: the rest wait for their turn, every message arrives, and the calls' buffers serve as many later ones`, async () => {
    const subscription = await ensureSubscription(client, 'events', 'events-turns', 30);
    const own = new BatchPublisher(client, 'events');
    const batches = Array.from({ length: PUBLISH_CALLS_MAX + 4 }, (_, b) => Array.from({ length: 20 }, (_, i): OutgoingMessage => ({ data: `turn-${b}-${i}` })));
    const again = batches.slice(0, PUBLISH_CALLS_MAX).map((batch) => batch.map((m): OutgoingMessage => ({ data: `again-${String(m.data)}` })));
    const allocations = jest.spyOn(Buffer, 'allocUnsafeSlow');
    try {
      await own.publish([{ data: 'turn-first' }]); // connected, and one spare buffer kept
      allocations.mockClear();
      emulator.pause();
      let published: Promise<unknown>;
      try {
        published = Promise.all(batches.map((batch) => own.publish(batch)));
        // Each call in flight encodes into a buffer of its own: the spare, then new ones. Calls
        // waiting for a turn encode nothing (nothing is answered while the emulator is paused).
        await waitFor(() => allocations.mock.calls.length >= PUBLISH_CALLS_MAX - 1, { what: 'the calls in flight' });
        await new Promise((resolve) => setImmediate(resolve)); // what could run now has run
        expect(allocations.mock.calls.length).toBe(PUBLISH_CALLS_MAX - 1);
      } finally {
        emulator.resume();
      }
      await published;
      // Every call's buffer was kept: as many calls at once again encode into them, none new.
      allocations.mockClear();
      await Promise.all(again.map((batch) => own.publish(batch)));
      expect(allocations.mock.calls.length).toBe(0);
    } finally {
      allocations.mockRestore();
      await own.close();
    }
    await expectReadBack(subscription, ['turn-first', ...batches.flat().map((m) => String(m.data)), ...again.flat().map((m) => String(m.data))]);
  }, 30_000);

  test('a topic that does not exist: the call rejects with NOT_FOUND', async () => {
    const missing = new BatchPublisher(client, 'never-created');
    try {
      await expect(missing.publish(MESSAGES)).rejects.toMatchObject({ code: 5 });
    } finally {
      await missing.close();
    }
  });

  test('warm() makes the channel before the first publish, which then makes none', async () => {
    const subscription = await ensureSubscription(client, 'events', 'events-warm', 30);
    const made = jest.spyOn(v1.PublisherClient.prototype, 'initialize');
    const own = new BatchPublisher(client, 'events');
    try {
      await own.warm();
      expect(made).toHaveBeenCalledTimes(1);
      await own.publish([{ data: 'after-warm' }]);
      expect(made).toHaveBeenCalledTimes(1);
    } finally {
      made.mockRestore();
      await own.close();
    }
    await expectReadBack(subscription, ['after-warm']);
  });

  test('a warm() that fails resolves all the same, and the first publish makes the channel', async () => {
    const subscription = await ensureSubscription(client, 'events', 'events-warm-failed', 30);
    // A configuration that cannot be had (no credentials, say): not something the emulator does.
    const config = jest.spyOn(client, 'getClientConfig').mockRejectedValueOnce(new Error('no credentials'));
    const own = new BatchPublisher(client, 'events');
    try {
      await expect(own.warm()).resolves.toBeUndefined();
      expect(config).toHaveBeenCalledTimes(1);
      await own.publish([{ data: 'after-failed-warm' }]);
      expect(config).toHaveBeenCalledTimes(2);
    } finally {
      config.mockRestore();
      await own.close();
    }
    await expectReadBack(subscription, ['after-failed-warm']);
  });
});
