/**
 * The `StreamingPull` streams of one subscription (stream-puller.ts hands out what they bring): N
 * streams on one channel, each asking for its share of the outstanding bound, paused and resumed
 * together (gRPC's flow control then holds the rest on the server). A stream that ends with OK or
 * a status the client library also retries (UNAVAILABLE, DEADLINE_EXCEEDED, …) is opened again
 * after a backoff (100 ms doubling to 10 s, reset once a stream has delivered); any other status
 * (NOT_FOUND: the subscription was deleted; PERMISSION_DENIED) is fatal: every stream stops. A
 * keep-alive (an empty request) goes on each stream every 30 s.
 */
import { randomUUID } from 'node:crypto';
import { status as Status, type ClientDuplexStream, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { google } from '@google-cloud/pubsub/build/protos/protos';
import { encoded, identity, type LibraryChannel } from './library-channel';

const pb = google.pubsub.v1;
const STREAMING_PULL = '/google.pubsub.v1.Subscriber/StreamingPull';
const KEEP_ALIVE_MS = 30_000;
const RETRY_INITIAL_MS = 100;
const RETRY_MAX_MS = 10_000;
/** Statuses after which a stream is opened again (the client library's list, and OK: the server ended it). */
const REOPEN = new Set<number>([Status.OK, Status.DEADLINE_EXCEEDED, Status.RESOURCE_EXHAUSTED, Status.ABORTED, Status.INTERNAL, Status.UNAVAILABLE, Status.CANCELLED]);

type Stream = ClientDuplexStream<Buffer, google.pubsub.v1.StreamingPullResponse>;

const decodeResponse = (buf: Buffer) => pb.StreamingPullResponse.decode(buf);

export interface PullStreamsOptions {
  /** Streams to open. */
  count: number;
  /** The lease of each delivery. */
  ackDeadlineSeconds: number;
  /** Messages outstanding, at most, over all the streams (each asks the server for its share). */
  maxOutstanding: number;
}

export interface PullStreamsEvents {
  /** A response from any stream. */
  received(response: google.pubsub.v1.StreamingPullResponse): void;
  /** A status the streams do not retry: every stream stops (right after this returns, if it did not stop them). */
  failed(err: ServiceError): void;
  /** Worth a debug line: a stream that ended and is opened again. */
  debug(err: Error): void;
}

export class PullStreams {
  private readonly streams: Array<Stream | undefined> = [];
  private readonly reopenTimers = new Set<NodeJS.Timeout>();
  private failures = 0;
  private held = false;
  private running = false;
  private keepAlive?: NodeJS.Timeout;

  constructor(
    private readonly link: LibraryChannel,
    private readonly opts: PullStreamsOptions,
    private readonly on: PullStreamsEvents,
  ) {}

  open(): void {
    this.running = true;
    for (let i = 0; i < this.opts.count; i++) this.openStream(i);
    this.keepAlive = setInterval(() => {
      for (const stream of this.streams) stream?.write(encoded(pb.StreamingPullRequest.encode({})));
    }, KEEP_ALIVE_MS).unref();
  }

  /** True while the streams are held (pause(true)). */
  get paused(): boolean {
    return this.held;
  }

  /** Hold (true) or let go on (false) what every stream brings. */
  pause(on: boolean): void {
    this.held = on;
    for (const stream of this.streams) {
      if (on) stream?.pause();
      else stream?.resume();
    }
  }

  /** Cancel every stream and timer (idempotent). */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.keepAlive);
    for (const timer of this.reopenTimers) clearTimeout(timer);
    this.reopenTimers.clear();
    for (const [i, stream] of this.streams.entries()) {
      this.streams[i] = undefined;
      stream?.cancel();
    }
  }

  private openStream(index: number): void {
    if (!this.running) return;
    const { link } = this;
    const stream = link.channel.makeBidiStreamRequest(STREAMING_PULL, identity, decodeResponse, link.metadata.clone(), {}) as Stream;
    this.streams[index] = stream;
    stream.on('data', (response: google.pubsub.v1.StreamingPullResponse) => {
      this.failures = 0;
      this.on.received(response);
    });
    // The status follows every error; it decides what happens next.
    stream.on('error', () => undefined);
    stream.on('status', (status: StatusObject) => this.ended(index, stream, status));
    if (this.held) stream.pause();
    stream.write(
      encoded(
        pb.StreamingPullRequest.encode({
          subscription: link.path,
          streamAckDeadlineSeconds: this.opts.ackDeadlineSeconds,
          maxOutstandingMessages: Math.ceil(this.opts.maxOutstanding / this.opts.count),
          clientId: randomUUID(),
        }),
      ),
    );
  }

  private ended(index: number, stream: Stream, status: StatusObject): void {
    if (this.streams[index] !== stream) return;
    this.streams[index] = undefined;
    if (!this.running) return;
    if (!REOPEN.has(status.code)) {
      this.on.failed(Object.assign(new Error(`${status.code} ${Status[status.code]}: ${status.details}`), status) as ServiceError);
      this.stop();
      return;
    }
    // The server ending a stream (OK, or its deadline) is no failure: as the client library, start the backoff over.
    if (status.code === Status.OK || status.code === Status.DEADLINE_EXCEEDED) this.failures = 0;
    const delay = Math.min(RETRY_MAX_MS, RETRY_INITIAL_MS * 2 ** Math.min(this.failures++, 10));
    this.on.debug(new Error(`stream ${index} ended (${Status[status.code]}: ${status.details}); opening it again in ${delay} ms`));
    const timer = setTimeout(() => {
      this.reopenTimers.delete(timer);
      this.openStream(index);
    }, delay);
    this.reopenTimers.add(timer);
  }
}
