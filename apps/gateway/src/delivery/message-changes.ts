/**
 * Messages changed after they were sent, as the control channel tells this gateway
 * (message-changes.ts in @herald/redis): an update gives the newest version to push instead of
 * an older one still in flight here (a live note, a drain batch, a cached body); a recall stops
 * every push of the message. Then the sessions that received it get the `update` or `delete`
 * frame, and the gateway confirms to the ingest that asked.
 *
 * Bounded: at most `max` changed ids are remembered (least recently used go first), an update no
 * longer than its message lives. Redis already holds the change, so an id forgotten here is
 * still right for every later read; only a push already holding the old body could be wrong, and
 * that is a push within moments of the change.
 */
import { LRUCache } from 'lru-cache';
import {
  controlDoneNote,
  keys,
  parseControlNote,
  type ControlNote,
  type EncodedMessage,
  type HeraldRedis,
} from '@herald/redis';
import type { Logger } from '@herald/logger';
import type { BodyStore } from './body-store';

interface Change {
  version: number;
  /** The newest version, or null once recalled. */
  message: EncodedMessage | null;
}

/** A recall outranks every update. */
const RECALLED = Number.MAX_SAFE_INTEGER;

export class MessageChanges {
  private readonly changed: LRUCache<string, Change>;

  constructor(max: number) {
    this.changed = new LRUCache({ max });
  }

  /** The version of `message` to push now: itself, its newest update, or null once recalled. */
  current(message: EncodedMessage): EncodedMessage | null {
    if (this.changed.size === 0) return message;
    const change = this.changed.get(message.id);
    return change ? change.message : message;
  }

  /** Whether this gateway was told the message was recalled (and still remembers it). */
  recalled(id: string): boolean {
    return this.changed.size > 0 && this.changed.peek(id)?.message === null;
  }

  /** Remember a change; an update older than one already known is ignored. */
  apply(note: ControlNote, now = Date.now()): void {
    const known = this.changed.get(note.id);
    if (note.kind === 'recall') {
      this.changed.set(note.id, { version: RECALLED, message: null });
      return;
    }
    if (known && known.version >= note.version) return;
    const ttl = note.message.expiresAt - now;
    if (ttl > 0) this.changed.set(note.id, { version: note.version, message: note.message }, { ttl });
  }
}

/** A session as the control listener sees it. */
export interface ChangeRecipient {
  received(id: string): boolean;
  sendChange(frame: Buffer | string): void;
}

/** Applies control notes: the changes, the body cache, the sessions' frames, the confirmation. */
export class ControlListener {
  constructor(
    private readonly changes: MessageChanges,
    private readonly bodies: BodyStore,
    private readonly sessions: () => Iterable<ChangeRecipient>,
    private readonly commands: HeraldRedis,
    private readonly gatewayId: string,
    private readonly logger: Logger,
  ) {}

  onNote(raw: Buffer): void {
    const note = parseControlNote(raw);
    if (!note) {
      this.logger.warn('unreadable control note dropped');
      return;
    }
    this.changes.apply(note);
    let frame: Buffer | string;
    if (note.kind === 'update') {
      this.bodies.remember(note.message);
      frame = note.frame;
    } else {
      this.bodies.forget(note.id);
      frame = JSON.stringify({ type: 'delete', id: note.id });
    }
    for (const session of this.sessions()) if (session.received(note.id)) session.sendChange(frame);
    this.commands.spublish(keys.controlDoneChannel, controlDoneNote(note.token, this.gatewayId)).catch((err: unknown) => {
      this.logger.warn({ err, messageId: note.id }, 'confirming a message change failed');
    });
  }
}
