/**
 * Conformance: the same behaviour, driven through the real @google-cloud/pubsub
 * client, must hold on Herald's emulator and (where installed) Google's. Only
 * behaviour both emulators share is asserted here; Herald-only guarantees
 * (server-side flow control, instant redelivery on stream close) live in
 * herald-emulator.spec.ts.
 */
import { PubSub, v1, type Message } from '@google-cloud/pubsub';
import { startEmulator } from '../src';
import { googlePubSubEmulatorInstalled, pubsubClientOptions, startPubSub, waitFor } from '@herald/testing';

process.env.METADATA_SERVER_DETECTION = 'none';

/** The GAPIC client takes the PubSub client's resolved config (servicePath, port, insecure creds). */
type SubscriberClientOptions = ConstructorParameters<typeof v1.SubscriberClient>[0];

const PROJECT_ID = 'herald-conformance';
/** The shortest ack deadline Pub/Sub accepts; lease-expiry tests wait this long. */
const ACK_DEADLINE_SECONDS = 10;
/** Per-call budget for unary Pull: Google's emulator holds an empty Pull until its deadline. */
const PULL_CALL_TIMEOUT_MS = 1_000;
/** For tests that wait out a lease: deadline + generous slack. */
const LEASE_TEST_TIMEOUT_MS = (ACK_DEADLINE_SECONDS + 20) * 1000;
const GRPC = { INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6 } as const;

interface Backend {
  name: string;
  start(): Promise<{ emulatorHost: string; stop(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'herald',
    start: async () => {
      const emulator = await startEmulator({ port: 0 });
      return { emulatorHost: emulator.address, stop: emulator.stop };
    },
  },
];
if (googlePubSubEmulatorInstalled()) {
  backends.push({ name: 'google', start: () => startPubSub({ kind: 'google', projectId: PROJECT_ID }) });
}

let nameSeq = 0;
/** Unique, valid resource id per call (ids need a leading letter and >= 3 chars). */
const uniqueName = (kind: string): string => `${kind}-${Date.now().toString(36)}-${++nameSeq}`;

async function grpcCodeOf(promise: Promise<unknown>): Promise<number | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return (err as { code?: number }).code;
  }
}

interface Pulled {
  ackId: string;
  data: string;
  messageId: string;
}

describe.each(backends)('Pub/Sub conformance: $name emulator', (backend) => {
  let stopEmulator: () => Promise<void>;
  let pubsub: PubSub;
  let subscriberClient: v1.SubscriberClient;
  let cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    const emulator = await backend.start();
    stopEmulator = emulator.stop;
    pubsub = new PubSub(pubsubClientOptions(emulator.emulatorHost, PROJECT_ID));
    subscriberClient = new v1.SubscriberClient((await pubsub.getClientConfig()) as SubscriberClientOptions);
  }, 90_000);

  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    cleanups = [];
  });

  afterAll(async () => {
    await subscriberClient?.close();
    await pubsub?.close();
    await stopEmulator?.();
  });

  async function createTopicAndSubs(subCount = 1) {
    const [topic] = await pubsub.createTopic(uniqueName('topic'));
    const subs = [];
    for (let i = 0; i < subCount; i++) {
      const [sub] = await topic.createSubscription(uniqueName('sub'), { ackDeadlineSeconds: ACK_DEADLINE_SECONDS });
      subs.push(sub);
    }
    return { topic, subs };
  }

  /** One unary Pull; an empty result (or Google's deadline-bound empty Pull) yields []. */
  async function pullOnce(subscription: string): Promise<Pulled[]> {
    try {
      const [response] = await subscriberClient.pull(
        { subscription, maxMessages: 100 },
        { timeout: PULL_CALL_TIMEOUT_MS, retry: null as never },
      );
      return (response.receivedMessages ?? []).map((r) => ({
        ackId: r.ackId as string,
        data: Buffer.from(r.message?.data as Uint8Array).toString(),
        messageId: r.message?.messageId as string,
      }));
    } catch (err) {
      if ((err as { code?: number }).code === GRPC.DEADLINE_EXCEEDED) return [];
      throw err;
    }
  }

  /** Pulls until `done(allSoFar)` holds; returns everything pulled. */
  async function pullUntil(subscription: string, done: (all: Pulled[]) => boolean, timeoutMs: number) {
    const all: Pulled[] = [];
    await waitFor(
      async () => {
        all.push(...(await pullOnce(subscription)));
        return done(all);
      },
      { timeoutMs, intervalMs: 0, what: `messages on ${subscription}` },
    );
    return all;
  }

  const ack = (subscription: string, pulled: Pulled[]) =>
    subscriberClient.acknowledge({ subscription, ackIds: pulled.map((p) => p.ackId) });

  describe('admin', () => {
    test('create, duplicate, missing topic and bad names map to the right gRPC codes', async () => {
      const topicName = uniqueName('topic');
      const [topic] = await pubsub.createTopic(topicName);
      expect(topic.name).toBe(`projects/${PROJECT_ID}/topics/${topicName}`);
      expect(await grpcCodeOf(pubsub.createTopic(topicName))).toBe(GRPC.ALREADY_EXISTS);

      const subName = uniqueName('sub');
      await topic.createSubscription(subName, { ackDeadlineSeconds: 17 });
      const [metadata] = await pubsub.subscription(subName).getMetadata();
      expect(metadata.ackDeadlineSeconds).toBe(17);
      expect(metadata.topic).toBe(topic.name);
      expect(await grpcCodeOf(topic.createSubscription(subName, { ackDeadlineSeconds: 10 }))).toBe(GRPC.ALREADY_EXISTS);

      const missingTopic = pubsub.topic(uniqueName('missing'));
      expect(await grpcCodeOf(missingTopic.createSubscription(uniqueName('sub'), { ackDeadlineSeconds: 10 }))).toBe(
        GRPC.NOT_FOUND,
      );
      expect(await grpcCodeOf(missingTopic.getMetadata())).toBe(GRPC.NOT_FOUND);
      expect(await grpcCodeOf(missingTopic.publishMessage({ data: Buffer.from('x') }))).toBe(GRPC.NOT_FOUND);
      expect(await grpcCodeOf(pubsub.subscription(uniqueName('missing')).getMetadata())).toBe(GRPC.NOT_FOUND);

      expect(await grpcCodeOf(pubsub.createTopic('ab'))).toBe(GRPC.INVALID_ARGUMENT);
      expect(await grpcCodeOf(pubsub.createTopic('1-starts-with-digit'))).toBe(GRPC.INVALID_ARGUMENT);
      expect(await grpcCodeOf(topic.createSubscription('xy', { ackDeadlineSeconds: 10 }))).toBe(GRPC.INVALID_ARGUMENT);

      await pubsub.subscription(subName).delete();
      expect(await grpcCodeOf(pubsub.subscription(subName).getMetadata())).toBe(GRPC.NOT_FOUND);
      await topic.delete();
      expect(await grpcCodeOf(topic.getMetadata())).toBe(GRPC.NOT_FOUND);
    });
  });

  describe('delivery', () => {
    test('a published batch arrives complete over streaming pull, with data, attributes, ids and publish time', async () => {
      const { topic, subs } = await createTopicAndSubs();
      const sent = Array.from({ length: 25 }, (_, i) => ({ data: `event-${i}`, attributes: { seq: String(i), kind: 'exposure' } }));
      const publishedAt = Date.now();
      const ids = await Promise.all(sent.map((m) => topic.publishMessage({ data: Buffer.from(m.data), attributes: m.attributes })));
      expect(new Set(ids).size).toBe(sent.length);

      const received = new Map<string, Message>();
      const subscription = pubsub.subscription(subs[0].name, { streamingOptions: { maxStreams: 1 } });
      cleanups.push(() => subscription.close());
      subscription.on('message', (m: Message) => {
        received.set(m.id, m);
        m.ack();
      });
      await waitFor(() => received.size >= sent.length, { timeoutMs: 4_000, what: 'all messages' });

      const asKey = (data: string, attributes: Record<string, string>) => JSON.stringify([data, attributes]);
      const got = [...received.values()];
      expect(new Set(got.map((m) => asKey(m.data.toString(), m.attributes)))).toEqual(
        new Set(sent.map((m) => asKey(m.data, m.attributes))),
      );
      expect(new Set(got.map((m) => m.id))).toEqual(new Set(ids));
      for (const m of got) {
        expect(Math.abs(m.publishTime.getTime() - publishedAt)).toBeLessThan(60_000);
      }
    });

    test('an acked message is not redelivered while an unacked one comes back after its lease expires', async () => {
      const { topic, subs } = await createTopicAndSubs();
      const subscription = subs[0].name;
      await topic.publishMessage({ data: Buffer.from('acked') });
      await topic.publishMessage({ data: Buffer.from('unacked') });

      const first = await pullUntil(subscription, (all) => all.length >= 2, 10_000);
      const leasedAt = Date.now();
      expect(first.map((p) => p.data).sort()).toEqual(['acked', 'unacked']);
      await ack(subscription, first.filter((p) => p.data === 'acked'));

      const redelivered = await pullUntil(
        subscription,
        (all) => all.some((p) => p.data === 'unacked'),
        (ACK_DEADLINE_SECONDS + 10) * 1000,
      );
      // Not before the lease ran out (1 s slack for clock granularity)...
      expect(Date.now() - leasedAt).toBeGreaterThanOrEqual((ACK_DEADLINE_SECONDS - 1) * 1000);
      // ...and the acked message, whose lease ran out at the same time, stayed gone.
      redelivered.push(...(await pullOnce(subscription)));
      expect(redelivered.map((p) => p.data)).toEqual(['unacked']);
      expect(redelivered[0].messageId).toBe(first.find((p) => p.data === 'unacked')?.messageId);
      await ack(subscription, redelivered);
    }, LEASE_TEST_TIMEOUT_MS);

    test('a nacked message is redelivered promptly', async () => {
      const { topic, subs } = await createTopicAndSubs();
      const messageId = await topic.publishMessage({ data: Buffer.from('nack-me') });

      const deliveries: Array<{ id: string; at: number }> = [];
      const subscription = pubsub.subscription(subs[0].name, { streamingOptions: { maxStreams: 1 } });
      cleanups.push(() => subscription.close());
      subscription.on('message', (m: Message) => {
        deliveries.push({ id: m.id, at: Date.now() });
        if (deliveries.length === 1) m.nack();
        else m.ack();
      });
      await waitFor(() => deliveries.length >= 2, { timeoutMs: 8_000, what: 'redelivery after nack' });

      expect(deliveries.map((d) => d.id).slice(0, 2)).toEqual([messageId, messageId]);
      // Well inside the ack deadline: the nack, not a lease expiry, caused it.
      expect(deliveries[1].at - deliveries[0].at).toBeLessThan((ACK_DEADLINE_SECONDS / 2) * 1000);
    });

    test('messages leased to a streaming pull that closes without acking are redelivered', async () => {
      const { topic, subs } = await createTopicAndSubs();
      const subscription = subs[0].name;
      const messageId = await topic.publishMessage({ data: Buffer.from('orphaned') });

      const stream = subscriberClient.streamingPull();
      const streamed: string[] = [];
      stream.on('data', (response: { receivedMessages: Array<{ message: { messageId: string } }> }) => {
        streamed.push(...response.receivedMessages.map((r) => r.message.messageId));
      });
      const closed = new Promise<void>((resolve) => stream.on('error', () => resolve()).on('close', () => resolve()));
      stream.write({ subscription, streamAckDeadlineSeconds: ACK_DEADLINE_SECONDS, maxOutstandingMessages: 10 });
      await waitFor(() => streamed.includes(messageId), { timeoutMs: 10_000, what: 'streamed message' });
      stream.cancel();
      await closed;

      const again = await pullUntil(subscription, (all) => all.length > 0, (ACK_DEADLINE_SECONDS + 10) * 1000);
      expect(again.map((p) => p.messageId)).toEqual([messageId]);
      await ack(subscription, again);
    }, LEASE_TEST_TIMEOUT_MS);

    test('fan-out: every subscription existing at publish time gets every message, later ones do not', async () => {
      const { topic, subs } = await createTopicAndSubs(2);
      const sent = ['a', 'b', 'c', 'd', 'e'].map((s) => `fan-${s}`);
      for (const data of sent) await topic.publishMessage({ data: Buffer.from(data) });
      const [late] = await topic.createSubscription(uniqueName('late'), { ackDeadlineSeconds: ACK_DEADLINE_SECONDS });
      await topic.publishMessage({ data: Buffer.from('after-late-sub') });

      for (const sub of subs) {
        const got = await pullUntil(sub.name, (all) => all.length >= sent.length + 1, 10_000);
        expect(got.map((p) => p.data).sort()).toEqual([...sent, 'after-late-sub'].sort());
        await ack(sub.name, got);
      }
      const lateGot = await pullUntil(late.name, (all) => all.some((p) => p.data === 'after-late-sub'), 10_000);
      expect(lateGot.map((p) => p.data)).toEqual(['after-late-sub']);
      await ack(late.name, lateGot);
    });

    test('client flow control: never more than maxMessages unacked messages in the handler at once', async () => {
      const maxMessages = 3;
      const total = 10;
      const { topic, subs } = await createTopicAndSubs();
      await Promise.all(Array.from({ length: total }, (_, i) => topic.publishMessage({ data: Buffer.from(`fc-${i}`) })));

      const subscription = pubsub.subscription(subs[0].name, {
        flowControl: { maxMessages, allowExcessMessages: false },
        streamingOptions: { maxStreams: 1 },
      });
      cleanups.push(() => subscription.close());
      const seen = new Set<string>();
      let outstanding = 0;
      let maxOutstanding = 0;
      subscription.on('message', (m: Message) => {
        seen.add(m.data.toString());
        outstanding += 1;
        maxOutstanding = Math.max(maxOutstanding, outstanding);
        // Simulated processing time, so several messages overlap.
        setTimeout(() => {
          outstanding -= 1;
          m.ack();
        }, 30);
      });
      await waitFor(() => seen.size >= total && outstanding === 0, { timeoutMs: 15_000, what: 'all messages processed' });

      expect(maxOutstanding).toBeLessThanOrEqual(maxMessages);
      expect(maxOutstanding).toBeGreaterThan(1); // messages really were processed concurrently
      expect(seen.size).toBe(total);
    }, 20_000);
  });
});
