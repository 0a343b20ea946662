/**
 * Engagement events (issue 18): every message the client hands to the app has `opened()`,
 * `clicked(action?)` and `dismissed()`, which report what the user did with it in an `event` frame
 * (docs/PROTOCOL.md). Each (message, kind) is reported once per client; events are queued in
 * order, sent at most every `intervalMs` in frames within the gateway's limits (`ids` batches of
 * one kind and action), and held while there is no welcomed connection, like acknowledgements
 * (ack-queue.ts).
 */
import {
  isEngagementAction,
  isMessageId,
  MAX_EVENT_IDS,
  type EngagementKind,
  type EventFrame,
  type MessageFrame,
} from '@herald/types';
import type { AckSink } from './ack-queue';
import { HeraldClientError } from './errors';

/** What the app can report about a message it was handed. */
export interface MessageEngagement {
  /** The user opened (looked at, expanded) the message. */
  opened(): void;
  /** The user clicked the message, or one of its actions (1–64 of `A-Z a-z 0-9 _ - . :`). */
  clicked(action?: string): void;
  /** The user dismissed the message (swiped it away, closed it). */
  dismissed(): void;
}

/**
 * A message as the client hands it over: the `message` frame's members, and the methods above
 * (on its prototype: JSON.stringify and spreading give the frame alone).
 */
export type DeliveredMessage = MessageFrame & MessageEngagement;

export interface EventQueueOptions {
  /** Events held at most, and (message, kind) pairs remembered as reported. */
  capacity: number;
  intervalMs: number;
  maxFrameBytes: number;
  /** Called after each flush with the events and frames sent. */
  onSent?(events: number, frames: number): void;
}

interface QueuedEvent {
  id: string;
  kind: EngagementKind;
  action?: string;
}

const ready = (sink: AckSink | null): sink is AckSink => sink !== null && sink.welcomed && sink.writable;

export class EventQueue {
  /** `<kind> <id>` of every event reported (queued or sent), oldest first, bounded. */
  private readonly reported = new Set<string>();
  private queue: QueuedEvent[] = [];
  private timer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly opts: EventQueueOptions,
    private readonly sink: () => AckSink | null,
  ) {}

  /** Events waiting to be sent. */
  get size(): number {
    return this.queue.length;
  }

  /** Queue an event, unless this (message, kind) was reported already; false then. */
  add(id: string, kind: EngagementKind, action?: string): boolean {
    if (action !== undefined && !isEngagementAction(action)) {
      throw new HeraldClientError('INVALID_OPTION', 'clicked(action): the action must be 1 to 64 of A-Z a-z 0-9 _ - . :');
    }
    const key = `${kind} ${id}`;
    // An id the gateway would refuse (it refuses the whole frame) is not reported; ingest never makes one.
    if (this.reported.has(key) || !isMessageId(id)) return false;
    this.reported.add(key);
    if (this.reported.size > this.opts.capacity) this.reported.delete(this.reported.values().next().value as string);
    this.queue.push(action === undefined ? { id, kind } : { id, kind, action });
    // Held while disconnected, bounded: past it the oldest event is lost.
    if (this.queue.length > this.opts.capacity) this.queue.shift();
    if (this.timer === undefined && this.sink()?.welcomed) {
      this.timer = setTimeout(() => this.flush(), this.opts.intervalMs);
    }
    return true;
  }

  /** Send everything queued now, if a connection can take it; otherwise keep holding it. */
  flush(): void {
    this.cancel();
    const sink = this.sink();
    if (this.queue.length === 0 || !ready(sink)) return;
    const frames = eventFrames(this.queue, this.opts.maxFrameBytes);
    for (const frame of frames) sink.send(frame);
    this.opts.onSent?.(this.queue.length, frames.length);
    this.queue = [];
  }

  /** Stop the pending flush timer; queued events stay. */
  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * The `event` frames for `events`: one per kind and action (in the order each first appears),
 * `id` for one message, `ids` for up to MAX_EVENT_IDS, each frame within `maxFrameBytes`.
 */
export function eventFrames(events: readonly QueuedEvent[], maxFrameBytes: number): string[] {
  const groups = new Map<string, { kind: EngagementKind; action?: string; ids: string[] }>();
  for (const { id, kind, action } of events) {
    const key = `${kind} ${action ?? ''}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { kind, action, ids: [] }));
    group.ids.push(id);
  }
  const frames: string[] = [];
  for (const { kind, action, ids } of groups.values()) {
    // The `ids` form with no id; each id adds itself, quoted, and a comma (ids are ASCII).
    const overhead = serialize(kind, action, []).length;
    let batch: string[] = [];
    let bytes = overhead;
    const flush = () => {
      if (batch.length > 0) frames.push(serialize(kind, action, batch));
      batch = [];
      bytes = overhead;
    };
    for (const id of ids) {
      const size = id.length + 3;
      if (overhead + size > maxFrameBytes) continue;
      if (batch.length === MAX_EVENT_IDS || bytes + size > maxFrameBytes) flush();
      batch.push(id);
      bytes += size;
    }
    flush();
  }
  return frames;
}

function serialize(kind: EngagementKind, action: string | undefined, ids: string[]): string {
  const frame = (ids.length === 1 ? { type: 'event', id: ids[0], kind } : { type: 'event', ids, kind }) as EventFrame;
  if (action !== undefined) frame.action = action;
  return JSON.stringify(frame);
}

/** Where each handed-over message reports to (kept off the message itself). */
const queues = new WeakMap<object, EventQueue>();

const methods: MessageEngagement & ThisType<MessageFrame> = {
  opened() {
    queues.get(this)?.add(this.id, 'opened');
  },
  clicked(action?: string) {
    queues.get(this)?.add(this.id, 'clicked', action);
  },
  dismissed() {
    queues.get(this)?.add(this.id, 'dismissed');
  },
};

/** The message the app is handed: the frame's members, reporting to `queue`. */
export function deliveredMessage(frame: MessageFrame, queue: EventQueue): DeliveredMessage {
  const message = Object.assign(Object.create(methods) as MessageEngagement, frame);
  queues.set(message, queue);
  return message;
}
