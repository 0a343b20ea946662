/**
 * @herald/pubsub's BatchPublisher against a real emulator, Google's where installed and ours: it
 * stores what one call publishes, attributes included, or refuses it with the gRPC status the
 * gateway's publish pump classifies.
 */
import { PubSub, type Message } from '@google-cloud/pubsub';
import { BatchPublisher, type OutgoingMessage } from '@herald/pubsub';
import { ensureSubscription, googlePubSubEmulatorInstalled, pubsubClientOptions, startPubSub, type PubSubKind } from './pubsub';
import { waitFor } from './wait';

process.env.METADATA_SERVER_DETECTION = 'none';

const MESSAGES: OutgoingMessage[] = [
  { data: '{"eventId":"e1"}' },
  { data: `{"eventId":"e2","userId":"${'ü'.repeat(200)}"}`, attributes: { kind: 'opened' } },
  { data: '', attributes: { kind: 'expired', 'x-ä': 'ö' } },
];

const kinds: PubSubKind[] = googlePubSubEmulatorInstalled() ? ['herald', 'google'] : ['herald'];

describe.each(kinds)('BatchPublisher on the %s emulator', (kind) => {
  let stop: () => Promise<void>;
  let client: PubSub;
  let publisher: BatchPublisher;

  beforeAll(async () => {
    const emulator = await startPubSub({ kind, projectId: 'batch-publisher-test' });
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
      MESSAGES.map((m) => ({ data: m.data, attributes: m.attributes ?? {} })).sort((a, b) => a.data.localeCompare(b.data)),
    );
  });

  test('more than one call holds (1,000 messages a call) goes as several calls, every message stored', async () => {
    const subscription = await ensureSubscription(client, 'events', 'events-split', 30);
    const many = Array.from({ length: 2_500 }, (_, i): OutgoingMessage => ({ data: `split-${i}` }));
    await publisher.publish(many);
    const received = new Set<string>();
    subscription.on('message', (m: Message) => {
      received.add(m.data.toString());
      m.ack();
    });
    await waitFor(() => received.size >= many.length, { timeoutMs: 20_000, what: 'every message' });
    await subscription.close();
    expect([...received].sort()).toEqual(many.map((m) => m.data).sort());
  }, 30_000);

  test('a topic that does not exist: the call rejects with NOT_FOUND', async () => {
    const missing = new BatchPublisher(client, 'never-created');
    try {
      await expect(missing.publish(MESSAGES)).rejects.toMatchObject({ code: 5 });
    } finally {
      await missing.close();
    }
  });
});
