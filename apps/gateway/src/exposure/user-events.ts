/**
 * The per-user events a gateway publishes besides exposures (issue 18, libs/types events.ts),
 * through the exposure pipeline (write-ahead log, pump, spill: the same no-loss guarantees):
 *
 * - `opened` / `clicked` / `dismissed` from a client's `event` frame (client-frame.ts checked its
 *   shape): one EngagementEvent per id. The gateway does not check that the user was delivered
 *   the message (the consumer does, against its exposures; the message may have been pushed by
 *   another session, device or gateway). It drops, for free, an id this gateway knows to be
 *   recalled (message-changes.ts): counted, no error frame (a client may have opened it just
 *   before the recall). The category is the one of the session's recent ids (recent-ids.ts), or
 *   null when the id is not among them (the consumer resolves it from the exposure).
 * - `expired` for an id a drain found expired: an inbox id whose body is gone or past its expiry
 *   (it is removed from the inbox), or a category log entry past its expiry (drain-sources.ts);
 *   `expired` or `dropped` for a category entry the log's lifetime or cap trimmed after the
 *   user's position, before the user read it (libs/redis readTrimmed).
 *
 * Event ids are perUserEventId(kind, message, user): a repeat, from any session, device or
 * gateway, is the same event and the consumer stores it once.
 */
import { perUserEventId } from '@herald/pubsub';
import type { EventIntake } from '../frames/client-frame';
import type { ExposurePublisher } from './exposure-publisher';
import { engagementJson, lossJson } from './user-event-json';
import type { GatewayMetrics } from '../metrics';
import type { MessageChanges } from '../delivery/message-changes';

/** A session as the recorder sees it. */
export interface EngagingSession {
  readonly id: string;
  readonly userId: string;
  /** The category of a message among the session's recent ids (undefined: not recent). */
  categoryOf(messageId: string): string | null | undefined;
}

export class UserEvents {
  constructor(
    private readonly publisher: Pick<ExposurePublisher, 'recordEvent' | 'isoNow'>,
    private readonly changes: Pick<MessageChanges, 'recalled'>,
    private readonly metrics: GatewayMetrics,
    private readonly gatewayId: string,
  ) {}

  /** A client's checked `event` frame: one event per id (an id twice in the frame: once). */
  engaged(session: EngagingSession, frame: EventIntake): void {
    const at = this.publisher.isoNow();
    const { kind, action } = frame;
    let recorded = 0;
    let recalled = 0;
    for (const messageId of new Set(frame.ids)) {
      if (this.changes.recalled(messageId)) {
        recalled++;
        continue;
      }
      const json = engagementJson({
        kind,
        eventId: perUserEventId(kind, messageId, session.userId),
        messageId,
        userId: session.userId,
        category: session.categoryOf(messageId) ?? null,
        sessionId: session.id,
        gatewayId: this.gatewayId,
        at,
        action,
      });
      this.publisher.recordEvent(json);
      recorded++;
    }
    if (recorded > 0) this.metrics.userEvents.inc({ kind }, recorded);
    if (recalled > 0) this.metrics.eventsRefused.inc({ reason: 'recalled' }, recalled);
  }

  /** Ids that left `userId`'s inbox (category: null) or a category's log unread because they expired. */
  expired(userId: string, messageIds: readonly string[], category: string | null): void {
    this.lost('expired', userId, messageIds, category);
  }

  /** Ids a category's log dropped at its cap before `userId` read them (its offline list's cap: ingest's). */
  dropped(userId: string, messageIds: readonly string[], category: string): void {
    this.lost('dropped', userId, messageIds, category);
  }

  private lost(kind: 'expired' | 'dropped', userId: string, messageIds: readonly string[], category: string | null): void {
    const at = this.publisher.isoNow();
    let recorded = 0;
    for (const messageId of messageIds) {
      // A recalled message is no loss (its id is dropped at the drain like an expired one).
      if (this.changes.recalled(messageId)) continue;
      this.publisher.recordEvent(lossJson({ kind, eventId: perUserEventId(kind, messageId, userId), messageId, userId, category, at }));
      recorded++;
    }
    if (recorded > 0) this.metrics.userEvents.inc({ kind }, recorded);
  }
}
