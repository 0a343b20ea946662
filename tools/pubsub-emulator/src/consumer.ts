/**
 * Someone messages can be leased to: an open StreamingPull stream (long-lived, flow controlled)
 * or a single waiting Pull call (one-shot).
 */
import type { EmulatorError } from './errors';
import type { PubsubMessage, ReceivedMessage } from './types';

export interface ConsumerOptions {
  /** Lease length for messages delivered to this consumer. */
  ackDeadlineSeconds: number;
  /**
   * Flow control: max unacked messages leased to this consumer; 0 = unlimited.
   * For a one-shot Pull waiter it is the Pull's max_messages (its batch size).
   */
  maxOutstandingMessages: number;
  /** Flow control: max unacked bytes leased to this consumer; 0 = unlimited. */
  maxOutstandingBytes: number;
  /** Pull waiters take one batch and leave; their leases are not flow-controlled. */
  oneShot: boolean;
  /** For one-shot waiters: when to give up and deliver an empty batch (epoch ms). */
  expiresAt?: number;
  deliver(messages: ReceivedMessage[]): void;
  /** Called when the consumer is evicted (subscription deleted, broker closed). */
  evict?(error: EmulatorError): void;
}

/** The bytes a message counts for in flow control. */
export const byteLength = (message: PubsubMessage): number => message.data?.length ?? 0;

export class Consumer {
  outstandingMessages = 0;
  outstandingBytes = 0;
  detached = false;

  constructor(readonly options: ConsumerOptions) {}

  /** Flow control check. Always admits one message so a huge message cannot wedge a stream. */
  hasRoomFor(bytes: number): boolean {
    const { maxOutstandingMessages, maxOutstandingBytes } = this.options;
    if (maxOutstandingMessages > 0 && this.outstandingMessages >= maxOutstandingMessages) return false;
    if (maxOutstandingBytes > 0 && this.outstandingMessages > 0 && this.outstandingBytes + bytes > maxOutstandingBytes) {
      return false;
    }
    return true;
  }

  /** A message leased to this consumer counts against its flow control until acked, nacked or expired. */
  take(message: PubsubMessage): void {
    this.outstandingMessages += 1;
    this.outstandingBytes += byteLength(message);
  }

  /** A lease of this consumer ended: its flow-control budget comes back. */
  give(message: PubsubMessage): void {
    this.outstandingMessages -= 1;
    this.outstandingBytes -= byteLength(message);
  }

  /** Evicted (subscription deleted, broker closed): it gets nothing more. */
  evict(error: EmulatorError): void {
    this.detached = true;
    this.options.evict?.(error);
  }
}
