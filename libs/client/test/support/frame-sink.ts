import type { AckSink } from '../../src/ack-queue';

/** A connection as the client's frame queues see it: records what they send, can refuse frames. */
export class FrameSink implements AckSink {
  frames: string[] = [];
  constructor(
    public welcomed = true,
    public writable = true,
  ) {}
  send(frame: string) {
    this.frames.push(frame);
  }
  /** The frames sent, parsed. */
  parsed(): Record<string, unknown>[] {
    return this.frames.map((f) => JSON.parse(f) as Record<string, unknown>);
  }
  /** The ids of every ack frame sent, in order. */
  ids(): string[] {
    return this.frames.flatMap((f) => (JSON.parse(f) as { ids: string[] }).ids);
  }
}
