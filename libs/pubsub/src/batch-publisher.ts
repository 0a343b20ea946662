/**
 * Publishes serialized messages to one topic, one `Publish` call per batch, the request encoded
 * here straight from the messages' JSON strings.
 *
 * Why not `topic.publishMessage()`: the client library makes, for every message, a Buffer, a
 * promise, its batcher's entries and a protobuf object, and a gateway makes one message for every
 * push (docs/BENCHMARKS.md, "The gateway's exposure publish"). A caller that batches already (the
 * gateway's publish pump) only needs one call per batch that either succeeds or fails.
 *
 * The call goes over the gRPC channel of the library's own generated `PublisherClient`, made from
 * the PubSub client's configuration (library-channel.ts): the same endpoint, TLS and Google credentials (or the
 * emulator's plain channel), the same channel options. Only the request's encoding and the
 * library's per-message bookkeeping are skipped. Retries are the caller's (the pump's backoff).
 */
import type { ServiceError } from '@grpc/grpc-js';
import type { PubSub } from '@google-cloud/pubsub';
import { SparePool } from '@herald/buffers';
import { identity, libraryChannel, type LibraryChannel } from './library-channel';

/** A message to publish: its data as a string (sent as UTF-8) or as bytes, and attributes if any. */
export interface OutgoingMessage {
  data: string | Buffer;
  attributes?: Readonly<Record<string, string>>;
}

const PUBLISH_METHOD = '/google.pubsub.v1.Publisher/Publish';
/** The client library's default deadline for a publish call. */
export const PUBLISH_DEADLINE_MS = 60_000;
/** Pub/Sub takes at most 1,000 messages and 10 MB per publish call. */
export const PUBLISH_MAX_MESSAGES = 1000;
/** Characters of data per call, at most: 3 bytes each at worst in UTF-8, well under 10 MB (data given as bytes counts its bytes). */
const PUBLISH_MAX_CHARS = 3_000_000;
/** The smallest request buffer made (they come in powers of two from it). */
const SPARE_MIN_BYTES = 64 * 1024;
/**
 * Calls in flight at once, at most; more wait for their turn, in order. Unbounded, a gateway had
 * ~280 calls out at once in a broadcast while the emulator was slow, each holding its own request
 * buffer (docs/BENCHMARKS.md, "A broadcast's page faults"). 64 calls of 100 events (a small
 * EXPOSURE_BATCH_MAX_MESSAGES) at 50 ms each still carry 128k events a second.
 */
export const PUBLISH_CALLS_MAX = 64;
/**
 * Request buffers are kept for later calls, one per call in flight at most (each about a call's
 * size: ~125 KB at 500 exposures, so up to ~16 MB in a broadcast), and let go after this long
 * without a call.
 */
const SPARES_IDLE_MS = 10_000;

// Protobuf tags (field number << 3 | wire type 2, length-delimited) of google.pubsub.v1.
const PUBLISH_REQUEST_TOPIC = 0x0a; // PublishRequest.topic = 1
const PUBLISH_REQUEST_MESSAGES = 0x12; // PublishRequest.messages = 2
const MESSAGE_DATA = 0x0a; // PubsubMessage.data = 1
const MESSAGE_ATTRIBUTES = 0x12; // PubsubMessage.attributes = 2 (map entries)
const ENTRY_KEY = 0x0a; // map entry key = 1
const ENTRY_VALUE = 0x12; // map entry value = 2
const RESPONSE_MESSAGE_IDS = 0x0a; // PublishResponse.message_ids = 1

function varintSize(n: number): number {
  let size = 1;
  while (n > 0x7f) {
    n >>>= 7;
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, n: number, at: number): number {
  while (n > 0x7f) {
    buf[at++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[at++] = n;
  return at;
}

/** Size of a length-delimited field holding `length` bytes. */
function fieldSize(length: number): number {
  return 1 + varintSize(length) + length;
}

function entrySize(key: string, value: string): number {
  return fieldSize(Buffer.byteLength(key)) + fieldSize(Buffer.byteLength(value));
}

function writeString(buf: Buffer, tag: number, value: string | Buffer, length: number, at: number): number {
  buf[at++] = tag;
  at = writeVarint(buf, length, at);
  if (typeof value !== 'string') {
    buf.set(value, at);
    return at + length;
  }
  return at + buf.write(value, at, 'utf8');
}

/**
 * A `google.pubsub.v1.PublishRequest` for `topic` (its full path) and `messages`, written into
 * `alloc(bytes)` (a buffer of at least that many bytes; the request is its start).
 */
export function encodePublishRequest(
  topic: string,
  messages: readonly OutgoingMessage[],
  alloc: (bytes: number) => Buffer = Buffer.allocUnsafe,
): Buffer {
  const dataLengths = new Array<number>(messages.length);
  const messageLengths = new Array<number>(messages.length);
  const topicLength = Buffer.byteLength(topic);
  let total = fieldSize(topicLength);
  for (let i = 0; i < messages.length; i++) {
    const { data, attributes } = messages[i];
    dataLengths[i] = Buffer.byteLength(data);
    let length = fieldSize(dataLengths[i]);
    if (attributes) for (const key in attributes) length += fieldSize(entrySize(key, attributes[key]));
    messageLengths[i] = length;
    total += fieldSize(length);
  }
  const given = alloc(total);
  const buf = given.length === total ? given : given.subarray(0, total);
  let at = writeString(buf, PUBLISH_REQUEST_TOPIC, topic, topicLength, 0);
  for (let i = 0; i < messages.length; i++) {
    const { data, attributes } = messages[i];
    buf[at++] = PUBLISH_REQUEST_MESSAGES;
    at = writeVarint(buf, messageLengths[i], at);
    at = writeString(buf, MESSAGE_DATA, data, dataLengths[i], at);
    if (!attributes) continue;
    for (const key in attributes) {
      const value = attributes[key];
      const keyLength = Buffer.byteLength(key);
      const valueLength = Buffer.byteLength(value);
      buf[at++] = MESSAGE_ATTRIBUTES;
      at = writeVarint(buf, fieldSize(keyLength) + fieldSize(valueLength), at);
      at = writeString(buf, ENTRY_KEY, key, keyLength, at);
      at = writeString(buf, ENTRY_VALUE, value, valueLength, at);
    }
  }
  return buf;
}

/** How many message ids a `google.pubsub.v1.PublishResponse` holds (null: not such a response). */
export function countMessageIds(response: Buffer): number | null {
  let count = 0;
  let at = 0;
  while (at < response.length) {
    if (response[at++] !== RESPONSE_MESSAGE_IDS) return null;
    let length = 0;
    let shift = 0;
    let byte: number;
    do {
      if (at >= response.length || shift > 28) return null;
      byte = response[at++];
      length += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    at += length;
    count++;
  }
  return at === response.length ? count : null;
}

/** How long warm() waits for the channel at most (credentials resolved, the client made). */
const WARM_TIMEOUT_MS = 5_000;

export class BatchPublisher {
  /** Made by warm() or the first publish (again after a failure). */
  private connection?: Promise<LibraryChannel>;
  private closed = false;
  /**
   * Request buffers of the calls answered, for the next calls (as libs/redis' command sites keep
   * theirs): a new one each call, hundreds of KB, faulted in fresh pages every time and promoted
   * before its call ends (docs/BENCHMARKS.md, "A broadcast's page faults" and "Buffers kept for
   * the exposure log and its publish calls"). A failed call's buffer is not reused: gRPC may not
   * be done with it.
   */
  private readonly spares = new SparePool({ keep: PUBLISH_CALLS_MAX, minBytes: SPARE_MIN_BYTES, idleMs: SPARES_IDLE_MS });
  /** Calls in flight, and the calls waiting for their turn (PUBLISH_CALLS_MAX). */
  private calls = 0;
  private readonly turns: Array<() => void> = [];

  /**
   * A publisher to `topicName` over a channel configured as `pubsub`'s clients are. Nothing is
   * resolved or connected until warm() or the first publish, so a start without credentials or
   * network does not fail: its publishes do, and are retried by the caller.
   */
  constructor(
    private readonly pubsub: PubSub,
    private readonly topicName: string,
  ) {}

  /**
   * Make the channel now rather than at the first publish: making the library's generated client
   * (its protos loaded into descriptors) holds a fresh process's event loop for 100–250 ms, which
   * the first message's publish paid while the requests and pushes behind it waited
   * (docs/BENCHMARKS.md, "An Intel machine: …, a fresh process's first publish"). Resolves once
   * it is made, has failed or `timeoutMs` has passed, never rejects: a failure is forgotten
   * (logged by the caller's first publish, which tries again), so a start without credentials or
   * network still does not fail.
   */
  async warm(timeoutMs = WARM_TIMEOUT_MS): Promise<void> {
    if (this.closed) return;
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    try {
      await Promise.race([this.connect().then(() => undefined, () => undefined), waited]);
    } finally {
      clearTimeout(timer);
    }
  }

  private connect(): Promise<LibraryChannel> {
    this.connection ??= libraryChannel(this.pubsub, { topic: this.topicName }).catch((err: unknown) => {
      this.connection = undefined;
      throw err;
    });
    return this.connection;
  }

  /**
   * Publish `messages`, in one call when they fit in one (1,000 messages and ~9 MB, Pub/Sub's
   * limits; more are split into calls made one after the other): resolves once Pub/Sub has stored
   * every one of them, rejects (a gRPC error with its `code`) when it has not confirmed them all.
   * The caller publishes them again (an id stored twice is one event to the consumer).
   */
  async publish(messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.closed) throw new Error('the publisher is closed');
    const connection = await this.connect();
    let start = 0;
    while (start < messages.length) {
      let end = start;
      let chars = 0;
      while (end < messages.length && end - start < PUBLISH_MAX_MESSAGES && (end === start || chars + messages[end].data.length <= PUBLISH_MAX_CHARS)) {
        chars += messages[end].data.length;
        end++;
      }
      await this.turn();
      try {
        await this.call(connection, start === 0 && end === messages.length ? messages : messages.slice(start, end));
      } finally {
        this.endTurn();
      }
      start = end;
    }
  }

  private call({ channel, path, metadata }: LibraryChannel, messages: readonly OutgoingMessage[]): Promise<void> {
    let taken: Buffer | undefined;
    const request = encodePublishRequest(path, messages, (bytes) => (taken = this.spares.take(bytes)));
    return new Promise((resolve, reject) => {
      channel.makeUnaryRequest<Buffer, Buffer>(
        PUBLISH_METHOD,
        identity,
        identity,
        request,
        metadata.clone(),
        { deadline: Date.now() + PUBLISH_DEADLINE_MS },
        (err: ServiceError | null, response?: Buffer) => {
          if (err) return reject(err);
          // Answered: gRPC has sent the request (its own framed copy of it) and is done with it.
          this.spares.giveBack(taken!);
          const ids = response === undefined ? null : countMessageIds(response);
          if (ids === messages.length) return resolve();
          reject(new Error(`Pub/Sub confirmed ${ids ?? 'an unreadable answer instead of'} message ids for ${messages.length} messages`));
        },
      );
    });
  }

  /** Resolves when a call may go (PUBLISH_CALLS_MAX); each turn taken is ended by endTurn(). */
  private turn(): Promise<void> | void {
    if (this.calls < PUBLISH_CALLS_MAX) {
      this.calls++;
      return;
    }
    return new Promise((resolve) => this.turns.push(resolve));
  }

  /** A call is over: the next waiting one takes its turn. */
  private endTurn(): void {
    const next = this.turns.shift();
    if (next) next();
    else this.calls--;
  }

  /** Closes the channel (idempotent); calls in flight fail. */
  async close(): Promise<void> {
    this.closed = true;
    this.spares.clear();
    await (await this.connection?.catch(() => undefined))?.close();
  }
}
