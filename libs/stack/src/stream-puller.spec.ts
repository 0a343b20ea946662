/**
 * @herald/pubsub's StreamPuller against a real emulator, Google's where installed and ours: every
 * message handed out with its data and attributes; no more than maxOutstanding unsettled at once
 * (Google's emulator ignores the server-side limit, so this is the puller's own); an ack that
 * holds, a nack that redelivers, a lease extended while a message is held; streams opened again
 * after the connection was cut under them; NOT_FOUND stops it.
 */
import { connect, createServer, type Socket } from 'node:net';
import { PubSub } from '@google-cloud/pubsub';
import { BatchPublisher, StreamPuller, type OutgoingMessage, type PulledMessage, type StreamPullerOptions } from '@herald/pubsub';
import { ensureSubscription, googlePubSubEmulatorInstalled, pubsubClientOptions, startPubSub, type PubSubKind } from './pubsub';
import { waitFor } from './wait';

process.env.METADATA_SERVER_DETECTION = 'none';

/** Pub/Sub's shortest lease. */
const ACK_DEADLINE_SECONDS = 10;

const kinds: PubSubKind[] = googlePubSubEmulatorInstalled() ? ['herald', 'google'] : ['herald'];

describe.each(kinds)('StreamPuller on the %s emulator', (kind) => {
  let stop: () => Promise<void>;
  let client: PubSub;
  let publisher: BatchPublisher;
  let emulatorHost: string;
  const pullers: StreamPuller[] = [];

  beforeAll(async () => {
    const emulator = await startPubSub({ kind, projectId: 'stream-puller-test' });
    emulatorHost = emulator.emulatorHost;
    client = new PubSub(pubsubClientOptions(emulator.emulatorHost, emulator.projectId));
    publisher = new BatchPublisher(client, 'pulled');
    stop = async () => {
      await Promise.all(pullers.map((p) => p.close(0)));
      await publisher.close();
      await client.close();
      await emulator.stop();
    };
  }, 60_000);
  afterAll(() => stop?.());

  /** A puller on a new subscription of the topic (messages published after this reach it). */
  async function pull(name: string, opts: { streams?: number; maxOutstanding?: number; via?: PubSub; weigh?: StreamPullerOptions['weigh'] } = {}): Promise<StreamPuller> {
    await ensureSubscription(client, 'pulled', name, ACK_DEADLINE_SECONDS);
    const puller = new StreamPuller(opts.via ?? client, name, {
      streams: opts.streams ?? 2,
      maxOutstanding: opts.maxOutstanding ?? 100,
      ackDeadlineSeconds: ACK_DEADLINE_SECONDS,
      weigh: opts.weigh,
    });
    pullers.push(puller);
    await puller.open();
    return puller;
  }

  test('hands out every message once, with its data and attributes', async () => {
    const puller = await pull('all');
    const got: Array<{ data: string; attributes: Record<string, string> }> = [];
    puller.on('message', (m: PulledMessage) => {
      got.push({ data: m.data.toString(), attributes: { ...m.attributes } });
      expect(m.id).not.toBe('');
      m.ack();
    });
    const sent: OutgoingMessage[] = [{ data: '{"n":1}' }, { data: 'ü'.repeat(300), attributes: { kind: 'opened', 'x-ä': 'ö' } }, { data: '', attributes: { kind: 'expired' } }];
    await publisher.publish(sent);
    await waitFor(() => got.length >= sent.length, { timeoutMs: 10_000, what: 'the messages' });
    expect(got.sort((a, b) => a.data.localeCompare(b.data))).toEqual(
      sent.map((m) => ({ data: String(m.data), attributes: m.attributes ?? {} })).sort((a, b) => a.data.localeCompare(b.data)),
    );
  });

  /**
   * Publishes `messages` to `puller`'s topic and settles what it hands out one at a time, each only
   * once `atBound` are unsettled (all it may hand out), until all came; the most unsettled at once
   * and every data seen.
   */
  async function settleAtTheBound(puller: StreamPuller, messages: OutgoingMessage[], atBound: number): Promise<{ most: number; seen: string[] }> {
    const unsettled = new Set<PulledMessage>();
    const seen: string[] = [];
    let most = 0;
    const onMessage = (m: PulledMessage) => {
      unsettled.add(m);
      seen.push(m.data.toString());
      most = Math.max(most, unsettled.size);
    };
    puller.on('message', onMessage);
    await publisher.publish(messages);
    while (seen.length < messages.length) {
      await waitFor(() => unsettled.size === atBound || seen.length === messages.length, { timeoutMs: 10_000, what: `${atBound} unsettled (seen ${seen.length})` });
      const [first] = unsettled;
      unsettled.delete(first);
      first.ack();
    }
    for (const m of unsettled) m.ack();
    puller.off('message', onMessage);
    return { most, seen };
  }

  test('never more than maxOutstanding handed out and unsettled; the rest comes as they are settled', async () => {
    const puller = await pull('bounded', { streams: 2, maxOutstanding: 5 });
    const { most, seen } = await settleAtTheBound(puller, Array.from({ length: 30 }, (_, i) => ({ data: `bounded-${i}` })), 5);
    expect(most).toBe(5);
    expect(new Set(seen).size).toBe(30);
  }, 30_000);

  test('with weigh, the bound counts what the messages weigh; one heavier than the whole bound still comes, alone', async () => {
    const puller = await pull('weighed', { streams: 2, maxOutstanding: 10, weigh: (attributes) => Number(attributes.w) });
    // Handed out while less than 10 is: 0, 4, 8 -> three of 4 (12), never a fourth. Counted by message it would be 10.
    const { most, seen } = await settleAtTheBound(puller, Array.from({ length: 12 }, (_, i) => ({ data: `weighed-${i}`, attributes: { w: '4' } })), 3);
    expect(most).toBe(3);
    expect(new Set(seen).size).toBe(12);
    const heavy = await settleAtTheBound(puller, [{ data: 'heavy', attributes: { w: '50' } }], 1);
    expect(heavy).toEqual({ most: 1, seen: ['heavy'] });
  }, 30_000);

  test('an ack holds, a nack redelivers, and a message held past its lease is not redelivered meanwhile', async () => {
    const puller = await pull('settle', { streams: 1 });
    const received = new Map<string, PulledMessage[]>();
    puller.on('message', (m: PulledMessage) => {
      const data = m.data.toString();
      received.set(data, [...(received.get(data) ?? []), m]);
      if (data === 'acked') m.ack();
      // The nacked one is acked when it comes again.
      if (data === 'nacked' && received.get(data)!.length === 1) m.nack();
      else if (data === 'nacked') m.ack();
    });
    await publisher.publish([{ data: 'acked' }, { data: 'held' }, { data: 'nacked' }]);
    await waitFor(() => received.get('nacked')?.length === 2, { timeoutMs: 10_000, what: 'the nacked message again' });
    // The lease running out is the condition itself: past it, an unextended or unacknowledged message comes again.
    await new Promise((resolve) => setTimeout(resolve, (ACK_DEADLINE_SECONDS + 3) * 1000));
    expect(received.get('acked')).toHaveLength(1);
    expect(received.get('held')).toHaveLength(1);
    expect(puller.outstanding).toBe(1);
    received.get('held')![0].ack();
    expect(puller.outstanding).toBe(0);
  }, 40_000);

  test('the connection cut under its streams: they are opened again and pulling goes on', async () => {
    const proxy = await tcpProxy(emulatorHost);
    const via = new PubSub(pubsubClientOptions(proxy.address, 'stream-puller-test'));
    try {
      const puller = await pull('cut', { via });
      const debug: string[] = [];
      puller.on('debug', (err: Error) => debug.push(err.message));
      const got: string[] = [];
      puller.on('message', (m: PulledMessage) => {
        got.push(m.data.toString());
        m.ack();
      });
      await publisher.publish([{ data: 'before' }]);
      await waitFor(() => got.includes('before'), { timeoutMs: 10_000, what: 'the message before the cut' });
      expect(proxy.cut()).toBeGreaterThan(0);
      const reopened = () => debug.filter((line) => /^stream \d+ ended/.test(line)).length;
      await waitFor(() => reopened() >= 2, { timeoutMs: 10_000, what: 'both streams to end and be opened again' });
      await publisher.publish([{ data: 'after' }]);
      // Ours hands it to a stream at once. Google's keeps the cut streams for a while and hands them
      // messages (seen here: 'after' came 10 or 20 s later, once over 30 s and once over 60 s in
      // CI), which come again each time their lease runs out, to a cut stream or a live one: allow
      // it a dozen leases. A run where it comes soon (nearly all) takes no longer for it.
      const leases = kind === 'google' ? 12 : 1;
      // Not there yet: the error names what came and the debug lines (waitFor reports the last one).
      const after = () => got.includes('after') || Promise.reject(new Error(`got ${got.join(', ')}; debug: ${debug.join(' | ')}`));
      await waitFor(after, { timeoutMs: leases * ACK_DEADLINE_SECONDS * 1000, what: 'the message after the cut' });
      expect(puller.isOpen).toBe(true);
      await puller.close(0);
    } finally {
      await via.close();
      proxy.close();
    }
  }, 150_000);

  test('a subscription that does not exist: an error with NOT_FOUND, then close', async () => {
    const puller = new StreamPuller(client, 'never-created', { streams: 2, maxOutstanding: 10, ackDeadlineSeconds: ACK_DEADLINE_SECONDS });
    pullers.push(puller);
    const errors: Array<{ code?: number }> = [];
    puller.on('error', (err: { code?: number }) => errors.push(err));
    const closed = new Promise<void>((resolve) => puller.once('close', resolve));
    await puller.open();
    await closed;
    expect(errors[0]).toMatchObject({ code: 5 });
    expect(puller.isOpen).toBe(false);
  });
});

/** A TCP proxy to `target` (host:port) whose open connections can be cut while it keeps listening. */
async function tcpProxy(target: string): Promise<{ address: string; cut(): number; close(): void }> {
  const at = target.lastIndexOf(':');
  const [host, port] = [target.slice(0, at), Number(target.slice(at + 1))];
  const open = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = connect(port, host);
    for (const socket of [inbound, outbound]) {
      open.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        open.delete(socket);
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: proxyPort } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${proxyPort}`,
    cut: () => {
      const n = open.size;
      for (const socket of open) socket.destroy();
      return n;
    },
    close: () => {
      for (const socket of open) socket.destroy();
      server.close();
    },
  };
}
