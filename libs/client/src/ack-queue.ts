/**
 * The acknowledgements a client owes the gateway: ids queued in order (an id once per flush),
 * sent in `ack` frames within the gateway's limits at most every `intervalMs`, and held while
 * there is no welcomed connection to send them on.
 */
import { ackFrames } from './ack-frames';

/** Where acks go: the client's current connection (frames reach its session once welcomed and writable). */
export interface AckSink {
  readonly welcomed: boolean;
  readonly writable: boolean;
  send(frame: string): unknown;
}

const ready = (sink: AckSink | null): sink is AckSink => sink !== null && sink.welcomed && sink.writable;

export interface AckQueueOptions {
  /** Ids held at most; the oldest is forgotten past it (the server resends it, and it is acked then). */
  capacity: number;
  intervalMs: number;
  maxFrameBytes: number;
  /** Called after each flush with the ids and frames sent. */
  onSent?(ids: number, frames: number): void;
}

export class AckQueue {
  private readonly ids = new Set<string>();
  private timer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly opts: AckQueueOptions,
    private readonly sink: () => AckSink | null,
  ) {}

  get size(): number {
    return this.ids.size;
  }

  /** Queue an id (moved to the end if it was queued already) and schedule a flush if one can go out. */
  add(id: string): void {
    this.ids.delete(id);
    this.ids.add(id);
    if (this.ids.size > this.opts.capacity) this.ids.delete(this.ids.values().next().value as string);
    if (this.timer === undefined && this.sink()?.welcomed) {
      this.timer = setTimeout(() => this.flush(), this.opts.intervalMs);
    }
  }

  /** Send everything queued now, if a connection can take it; otherwise keep holding it. */
  flush(): void {
    this.cancel();
    const sink = this.sink();
    if (this.ids.size === 0 || !ready(sink)) return;
    const frames = ackFrames(this.ids, this.opts.maxFrameBytes);
    for (const frame of frames) sink.send(frame);
    this.opts.onSent?.(this.ids.size, frames.length);
    this.ids.clear();
  }

  /** Stop the pending flush timer; queued ids stay. */
  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
