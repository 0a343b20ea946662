/**
 * The gRPC channel of one of the client library's own generated clients (`PublisherClient` for a
 * topic, `SubscriberClient` for a subscription), made from a PubSub client's configuration: the
 * same endpoint, TLS, Google credentials (or the emulator's plain channel) and channel options the
 * library gives its own clients (pubsub.js getClientAsync_). BatchPublisher and StreamPuller make
 * their calls on it with requests encoded here, skipping only the library's per-message work.
 */
import { Metadata, type Client } from '@grpc/grpc-js';
import { v1, type PubSub } from '@google-cloud/pubsub';

export interface LibraryChannel {
  channel: Pick<Client, 'makeUnaryRequest' | 'makeBidiStreamRequest'>;
  /** The resource's full path (`projects/<project>/topics/<name>` or `…/subscriptions/<name>`). */
  path: string;
  /** The routing header the generated client sends with every call on the resource. */
  metadata: Metadata;
  /** Closes the generated client, and with it the channel. */
  close(): Promise<void>;
}

/** Bytes passed through as they are (requests encoded, responses decoded by the caller). */
export const identity = (buf: Buffer): Buffer => buf;

/** A protobufjs writer's bytes as a Buffer (what grpc-js sends). */
export function encoded(writer: { finish(): Uint8Array }): Buffer {
  const bytes = writer.finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The channel for calls on a topic or a subscription; rejects (closing what it made) when it cannot be made. */
export async function libraryChannel(pubsub: PubSub, of: { topic: string } | { subscription: string }): Promise<LibraryChannel> {
  // getClientConfig() also settles the project id the path is made with.
  const config = await pubsub.getClientConfig();
  const [param, path] = 'topic' in of ? ['topic', pubsub.topic(of.topic).name] : ['subscription', pubsub.subscription(of.subscription).name];
  const metadata = new Metadata();
  metadata.set('x-goog-request-params', `${param}=${encodeURIComponent(path)}`);
  type Options = ConstructorParameters<typeof v1.PublisherClient>[0];
  const gapic = 'topic' in of ? new v1.PublisherClient(config as Options) : new v1.SubscriberClient(config as Options);
  try {
    const channel = (await gapic.initialize()) as unknown as LibraryChannel['channel'];
    return { channel, path, metadata, close: () => gapic.close() };
  } catch (err) {
    await gapic.close().catch(() => undefined);
    throw err;
  }
}
