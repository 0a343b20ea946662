/**
 * What one client may send before its session is closed for abuse (4008) or the excess is
 * dropped: frames per second, engagement event ids per second, error frames, and ack ids the
 * session had nothing pending for. The seconds are the hub's sweep (heartbeat.ts calls reset()).
 */

/** The limits, from config (SessionContext carries them). */
export interface FrameLimits {
  /** Frames per second before the session is closed with 4008 (WS_MAX_FRAMES_PER_SECOND). */
  maxFramesPerSecond: number;
  /** Engagement event ids per second (WS_MAX_EVENTS_PER_SECOND); more are dropped and counted. */
  maxEventsPerSecond: number;
  /** Error frames before the session is closed with 4008. */
  maxFrameErrors: number;
  /** Ignored ack ids (not pending for the session) before it is closed with 4008. */
  maxIgnoredAckIds: number;
}

export class FrameBudget {
  /** Frames received in the current second. */
  private frames = 0;
  /** Engagement event ids taken in the current second. */
  private events = 0;
  private errors = 0;
  /** Ack ids ignored so far (see AckTracker). */
  private ignored = 0;

  constructor(private readonly limits: FrameLimits) {}

  /** A new second: frames and events start over. */
  reset(): void {
    this.frames = 0;
    this.events = 0;
  }

  /** Count a frame: false once this second's frames are past the limit. */
  frame(): boolean {
    return ++this.frames <= this.limits.maxFramesPerSecond;
  }

  /** Of `wanted` event ids, how many this second still has room for (and takes them). */
  takeEvents(wanted: number): number {
    const taken = Math.max(0, Math.min(wanted, this.limits.maxEventsPerSecond - this.events));
    this.events += taken;
    return taken;
  }

  /** Count an error frame: false once past the limit. */
  error(): boolean {
    return ++this.errors <= this.limits.maxFrameErrors;
  }

  /**
   * Count `count` ignored ack ids: false once past the limit, which grows by the ids the session
   * forgot without an ack (`forgotten`: a client may still ack those).
   */
  ignoreAcks(count: number, forgotten: number): boolean {
    this.ignored += count;
    return this.ignored <= this.limits.maxIgnoredAckIds + forgotten;
  }
}
