/**
 * What every session of a gateway shares: its collaborators (the exposure publisher, engagement
 * events, message changes, metrics), the per-session limits from config, and the callbacks for
 * acks, category positions and abuse. One object per gateway (gateway.ts), so a session holds only
 * its own state.
 */
import type { ExposurePublisher } from '../exposure/exposure-publisher';
import type { FrameLimits } from '../frames/frame-budget';
import type { GatewayMetrics } from '../metrics';
import type { MessageChanges } from '../delivery/message-changes';
import type { Session } from './session';
import type { UserEvents } from '../exposure/user-events';

export interface SessionContext extends FrameLimits {
  publisher: ExposurePublisher;
  /** Engagement events from `event` frames (user-events.ts). */
  events: Pick<UserEvents, 'engaged'>;
  /** Updated and recalled messages: what to push instead, or nothing. */
  changes: MessageChanges;
  /** Ids remembered as received, for `update` / `delete` frames (WS_RECENT_IDS). */
  recentIds: number;
  metrics: GatewayMetrics;
  sendBufferMaxBytes: number;
  /** Ids remembered as pushed and not acknowledged (WS_MAX_UNACKED_IDS). */
  maxUnackedIds: number;
  /** Ids this session pushed and now sees acknowledged, each once: remove them from the inbox. */
  onAck(session: Session, ids: string[]): void;
  /** The user's position in a category's log may move to `entry` (category-cursors.ts). */
  onPosition(session: Session, category: string, entry: string): void;
  /** The session was closed with 4008 for abuse (WS_ABUSE_COOLDOWN_MS). */
  onAbuse(session: Session): void;
}
