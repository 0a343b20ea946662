/**
 * Guarantees Herald's emulator makes beyond what Google's emulator does (so they
 * are not in the conformance suite): server-side StreamingPull flow control
 * (Google's emulator ignores max_outstanding_messages), stream-level
 * errors, and message ids that stay unique across restarts.
 */
import { PubSub, v1 } from '@google-cloud/pubsub';
import { startEmulator, type RunningEmulator } from '../src';
import { pubsubClientOptions, waitFor } from '@herald/testing';

process.env.METADATA_SERVER_DETECTION = 'none';

/** The GAPIC client takes the PubSub client's resolved config (servicePath, port, insecure creds). */
type SubscriberClientOptions = ConstructorParameters<typeof v1.SubscriberClient>[0];

const PROJECT_ID = 'herald-emulator';
/** Long enough that any redelivery seen in these tests cannot be a lease expiry. */
const LONG_ACK_DEADLINE_SECONDS = 600;
const GRPC = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, UNAVAILABLE: 14 } as const;

interface StreamResponse {
  receivedMessages: Array<{ ackId: string; message: { messageId: string; data: Buffer } }>;
}

let nameSeq = 0;
const uniqueName = (kind: string): string => `${kind}-${Date.now().toString(36)}-${++nameSeq}`;

describe("Herald's Pub/Sub emulator", () => {
  let emulator: RunningEmulator;
  let pubsub: PubSub;
  let subscriberClient: v1.SubscriberClient;
  const openStreams: Array<{ cancel(): void }> = [];

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
    pubsub = new PubSub(pubsubClientOptions(emulator.address, PROJECT_ID));
    subscriberClient = new v1.SubscriberClient((await pubsub.getClientConfig()) as SubscriberClientOptions);
  });
  afterEach(() => openStreams.splice(0).forEach((s) => s.cancel()));
  afterAll(async () => {
    await subscriberClient.close();
    await pubsub.close();
    await emulator.stop();
  });

  async function topicWithSub() {
    const [topic] = await pubsub.createTopic(uniqueName('topic'));
    const [sub] = await topic.createSubscription(uniqueName('sub'), { ackDeadlineSeconds: 10 });
    return { topic, subscription: sub.name };
  }

  /** A raw StreamingPull stream that records responses and its final status. */
  function openStream(first: Record<string, unknown>) {
    const stream = subscriberClient.streamingPull();
    openStreams.push(stream);
    const received: StreamResponse['receivedMessages'] = [];
    const state: { error?: { code: number } } = {};
    stream.on('data', (r: StreamResponse) => received.push(...r.receivedMessages));
    stream.on('error', (err: { code: number }) => {
      state.error = err;
    });
    stream.write(first);
    return { stream, received, state };
  }

  test('StreamingPull never leases more than max_outstanding_messages to a stream', async () => {
    const { topic, subscription } = await topicWithSub();
    const total = 7;
    const maxOutstanding = 2;
    await Promise.all(Array.from({ length: total }, (_, i) => topic.publishMessage({ data: Buffer.from(`m${i}`) })));

    const { stream, received } = openStream({
      subscription,
      streamAckDeadlineSeconds: LONG_ACK_DEADLINE_SECONDS,
      maxOutstandingMessages: maxOutstanding,
    });
    let acked = 0;
    let peak = 0;
    // Ack one message at a time, over the stream itself, checking the budget each time.
    while (acked < total) {
      await waitFor(() => received.length > acked, { timeoutMs: 5_000, what: `message ${acked + 1}` });
      peak = Math.max(peak, received.length - acked);
      stream.write({ ackIds: [received[acked].ackId] });
      acked += 1;
    }
    expect(peak).toBe(maxOutstanding);
    expect(new Set(received.map((r) => r.message.data.toString())).size).toBe(total);
  });

  test('a nack sent over the stream (modify deadline 0) redelivers on the same stream', async () => {
    const { topic, subscription } = await topicWithSub();
    await topic.publishMessage({ data: Buffer.from('again') });
    const { stream, received } = openStream({ subscription, streamAckDeadlineSeconds: LONG_ACK_DEADLINE_SECONDS });
    await waitFor(() => received.length === 1, { timeoutMs: 5_000, what: 'delivery' });
    stream.write({ modifyDeadlineAckIds: [received[0].ackId], modifyDeadlineSeconds: [0] });
    await waitFor(() => received.length === 2, { timeoutMs: 5_000, what: 'redelivery' });
    expect(received[1].message.messageId).toBe(received[0].message.messageId);
  });

  test('stream errors: missing subscription field, unknown subscription, subscription deleted mid-stream', async () => {
    const noSub = openStream({ streamAckDeadlineSeconds: 10 });
    await waitFor(() => noSub.state.error, { timeoutMs: 5_000, what: 'INVALID_ARGUMENT' });
    expect(noSub.state.error?.code).toBe(GRPC.INVALID_ARGUMENT);

    const unknown = openStream({
      subscription: `projects/${PROJECT_ID}/subscriptions/${uniqueName('nope')}`,
      streamAckDeadlineSeconds: 10,
    });
    await waitFor(() => unknown.state.error, { timeoutMs: 5_000, what: 'NOT_FOUND' });
    expect(unknown.state.error?.code).toBe(GRPC.NOT_FOUND);

    const { subscription } = await topicWithSub();
    const live = openStream({ subscription, streamAckDeadlineSeconds: 10 });
    await pubsub.subscription(subscription).delete();
    await waitFor(() => live.state.error, { timeoutMs: 5_000, what: 'NOT_FOUND after delete' });
    expect(live.state.error?.code).toBe(GRPC.NOT_FOUND);
  });

  test('stop() ends open streams with UNAVAILABLE (retryable), and ids never repeat after a restart', async () => {
    const other = await startEmulator({ port: 0 });
    const client = new PubSub(pubsubClientOptions(other.address, PROJECT_ID));
    const rawClient = new v1.SubscriberClient((await client.getClientConfig()) as SubscriberClientOptions);
    try {
      const [topic] = await client.createTopic('restart-topic');
      const [sub] = await topic.createSubscription('restart-sub', { ackDeadlineSeconds: 10 });
      const idBefore = await topic.publishMessage({ data: Buffer.from('x') });

      const stream = rawClient.streamingPull();
      let code: number | undefined;
      let delivered = 0;
      stream.on('error', (err: { code: number }) => (code = err.code));
      stream.on('data', (r: StreamResponse) => (delivered += r.receivedMessages.length));
      stream.write({ subscription: sub.name, streamAckDeadlineSeconds: 10 });
      await waitFor(() => delivered === 1, { timeoutMs: 5_000, what: 'stream open and delivering' });
      await other.stop();
      await waitFor(() => code !== undefined, { timeoutMs: 5_000, what: 'stream status' });
      expect(code).toBe(GRPC.UNAVAILABLE);

      const restarted = await startEmulator({ port: other.port });
      try {
        const again = new PubSub(pubsubClientOptions(restarted.address, PROJECT_ID));
        const [topic2] = await again.createTopic('restart-topic');
        const idAfter = await topic2.publishMessage({ data: Buffer.from('y') });
        expect(BigInt(idAfter)).toBeGreaterThan(BigInt(idBefore));
        await again.close();
      } finally {
        await restarted.stop();
      }
    } finally {
      await rawClient.close();
      await client.close();
      await other.stop();
    }
  });
});
