/**
 * The calls that settle a subscription's messages (StreamPuller): `Acknowledge`, and
 * `ModifyAckDeadline` for nacks (deadline 0) and lease extensions, each in chunks of at most
 * SETTLE_MAX_IDS ack ids, as unary calls on the puller's channel (they hold across a stream's
 * end). A failed call is only reported: its messages come again, and the consumer stores them once.
 */
import type { ServiceError } from '@grpc/grpc-js';
import { google } from '@google-cloud/pubsub/build/protos/protos';
import { encoded, identity, type LibraryChannel } from './library-channel';

const pb = google.pubsub.v1;
const ACKNOWLEDGE = '/google.pubsub.v1.Subscriber/Acknowledge';
const MODIFY_ACK_DEADLINE = '/google.pubsub.v1.Subscriber/ModifyAckDeadline';
/** Ids per acknowledge or modify call, at most (the client library's limit). */
export const SETTLE_MAX_IDS = 2500;
const DEADLINE_MS = 60_000;

/**
 * Resolves once one of `waiters`' entries is called (the caller calls them when its condition
 * holds), or after `ms`.
 */
export async function whenCalled(waiters: Set<() => void>, ms: number): Promise<void> {
  let resolve!: () => void;
  const called = new Promise<void>((r) => waiters.add((resolve = r)));
  const timer = setTimeout(resolve, ms);
  await called;
  clearTimeout(timer);
  waiters.delete(resolve);
}

export class SettleCalls {
  private pending = 0;
  private readonly idle = new Set<() => void>();

  constructor(
    /** The subscription's channel (library-channel.ts). */
    private readonly on: Pick<LibraryChannel, 'channel' | 'path' | 'metadata'>,
    /** A call failed (its message names which). */
    private readonly failed: (err: Error) => void,
  ) {}

  ack(ackIds: readonly string[]): void {
    for (let i = 0; i < ackIds.length; i += SETTLE_MAX_IDS) {
      const request = pb.AcknowledgeRequest.encode({ subscription: this.on.path, ackIds: ackIds.slice(i, i + SETTLE_MAX_IDS) });
      this.call(ACKNOWLEDGE, request, 'ack');
    }
  }

  /** Lease `ackIds` for `seconds` more (0: a nack, delivered again soon). */
  modify(ackIds: readonly string[], seconds: number): void {
    for (let i = 0; i < ackIds.length; i += SETTLE_MAX_IDS) {
      const request = pb.ModifyAckDeadlineRequest.encode({
        subscription: this.on.path,
        ackIds: ackIds.slice(i, i + SETTLE_MAX_IDS),
        ackDeadlineSeconds: seconds,
      });
      this.call(MODIFY_ACK_DEADLINE, request, seconds === 0 ? 'nack' : 'lease extension');
    }
  }

  /** Resolves once no call is in flight (or after the calls' deadline). */
  async drained(): Promise<void> {
    if (this.pending > 0) await whenCalled(this.idle, DEADLINE_MS);
  }

  private call(method: string, request: { finish(): Uint8Array }, what: string): void {
    this.pending++;
    this.on.channel.makeUnaryRequest<Buffer, Buffer>(
      method,
      identity,
      identity,
      encoded(request),
      this.on.metadata.clone(),
      { deadline: Date.now() + DEADLINE_MS },
      (err: ServiceError | null) => {
        if (err) this.failed(Object.assign(new Error(`${what} failed: ${err.message}`), { cause: err }));
        if (--this.pending === 0) for (const resolve of this.idle) resolve();
      },
    );
  }
}
