/**
 * One Pub/Sub message holding several events (libs/pubsub event-messages.ts), settled event by
 * event: each event waits in its own batch (batch-writer.ts), and the message is acknowledged once
 * every one of its events is stored (or dead-lettered). The first nack nacks the message: Pub/Sub
 * gives all of it again, and the events already stored are duplicates the store skips.
 */
import type { PulledMessage } from '@herald/pubsub';

/** What the batch writer settles for an event: its message, or its share of one (SharedMessage). */
export interface Settleable {
  /** The Pub/Sub message id (for dead letters and logs). */
  readonly id: string;
  ack(): void;
  nack(): void;
}

export class SharedMessage implements Settleable {
  private left: number;
  private settled = false;

  /** `message`, to be settled by `events` calls of ack() (or one of nack()). */
  constructor(
    private readonly message: PulledMessage,
    events: number,
  ) {
    this.left = events;
  }

  get id(): string {
    return this.message.id;
  }

  ack(): void {
    if (this.settled || --this.left > 0) return;
    this.settled = true;
    this.message.ack();
  }

  nack(): void {
    if (this.settled) return;
    this.settled = true;
    this.message.nack();
  }
}
