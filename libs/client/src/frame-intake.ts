/**
 * What the client does with each frame the gateway sends on its current connections: the welcome
 * goes back to the state machine (herald-client.ts); a message is handed to the app once per id
 * (duplicates suppressed, replaced messages acknowledged, with `opened()` / `clicked()` /
 * `dismissed()`: engagement.ts); updates, recalls and error frames become the client's events.
 */
import type { DeleteFrame, MessageFrame, ServerFrame, WelcomeFrame } from '@herald/types';
import type { AckQueue } from './ack-queue';
import type { ClientStats, HeraldClientEvents } from './client-events';
import type { Connection } from './connection';
import type { DeliveredIds } from './delivered-ids';
import { deliveredMessage, type EventQueue } from './engagement';
import type { MessageStream } from './message-stream';
import type { ReplaceKeys } from './replace-keys';

export interface IntakeDeps {
  delivered: DeliveredIds;
  replaceKeys: ReplaceKeys;
  acks: AckQueue;
  events: EventQueue;
  stats: ClientStats;
  /** `ack: 'auto'`: each message is acknowledged as it is handed over. */
  autoAck: boolean;
  streams: Iterable<MessageStream>;
  emit<K extends keyof HeraldClientEvents>(event: K, value: HeraldClientEvents[K]): void;
  welcome(connection: Connection, frame: WelcomeFrame): void;
  /** Acknowledge an id for the app (as `HeraldClient.ack`). */
  ack(id: string): void;
}

export class FrameIntake {
  constructor(private readonly deps: IntakeDeps) {}

  onFrame(connection: Connection, frame: ServerFrame): void {
    switch (frame.type) {
      case 'welcome':
        return this.deps.welcome(connection, frame);
      case 'message':
        return this.deliver(frame);
      case 'update':
        return this.deps.emit('update', frame);
      case 'delete':
        return this.recalled(frame);
      case 'error':
        return this.deps.emit('serverError', frame);
      default:
        this.deps.emit('error', new Error(`the server sent an unknown frame type ${JSON.stringify((frame as { type: string }).type)}`));
    }
  }

  private deliver(frame: MessageFrame): void {
    const { delivered, acks, stats, emit } = this.deps;
    const acked = delivered.acked(frame.id);
    if (acked !== undefined) {
      stats.duplicates++;
      // Acknowledged before, yet sent again: that acknowledgement was lost; send it again.
      if (acked) acks.add(frame.id);
      emit('duplicate', frame);
      if (frame.updatedAt !== undefined) {
        emit('update', { type: 'update', id: frame.id, payload: frame.payload, updatedAt: frame.updatedAt });
      }
      return;
    }
    const message = deliveredMessage(this.replacing(frame), this.deps.events);
    const auto = this.deps.autoAck;
    delivered.add(message.id, auto);
    stats.messages++;
    // Queued before the app sees it, so a listener that closes the client still has it acknowledged.
    if (auto) acks.add(message.id);
    emit('message', message);
    for (const stream of this.deps.streams) stream.push(message);
  }

  /**
   * A recalled message: acknowledged for the app if it was handed over and not acknowledged yet
   * (it is gone from the offline list already; a category's read position waits for the ack).
   */
  private recalled(frame: DeleteFrame): void {
    if (this.deps.delivered.acked(frame.id) === false) this.deps.ack(frame.id);
    this.deps.emit('delete', frame);
  }

  /**
   * A message that takes the place of an earlier one (replace-keys.ts): the earlier one is
   * acknowledged now if this client got it and has not (the app shows the new one instead; for a
   * category message, an unacknowledged one would hold the user's position back), and the
   * message handed over says `replaces`.
   */
  private replacing(message: MessageFrame): MessageFrame {
    const { replaceKeys, delivered, acks, stats } = this.deps;
    const replaced = replaceKeys.replaced(message);
    if (replaced === undefined) return message;
    stats.replaced++;
    if (delivered.acked(replaced) === false) {
      delivered.markAcked(replaced);
      acks.add(replaced);
    }
    return message.replaces === replaced ? message : { ...message, replaces: replaced };
  }
}
