/**
 * Live delivery: one subscriber connection per gateway, subscribed to the channel of every user
 * with a session here. A notification is routed through the hub to each of the user's sessions.
 * The subscription is counted by the hub (first session subscribes, last one unsubscribes), and
 * concurrent connects of one user share the same subscribe round trip.
 */
import { keys, parseNotification, type HeraldRedis } from '@herald/redis';
import type { Logger } from '@herald/logger';
import type { Hub } from './hub';
import type { BodyStore } from './body-store';

export class LiveRouter {
  private readonly subscribed = new Map<string, Promise<void>>();

  constructor(
    private readonly sub: HeraldRedis,
    private readonly hub: Hub,
    private readonly bodies: BodyStore,
    private readonly logger: Logger,
  ) {
    sub.on('message', (channel: string, raw: string) => this.route(channel, raw));
  }

  /** Resolves once the user's channel is subscribed (notifications from then on reach us). */
  subscribe(userId: string): Promise<void> {
    let done = this.subscribed.get(userId);
    if (!done) {
      done = this.sub.subscribe(keys.userChannel(userId)).then(() => undefined);
      this.subscribed.set(userId, done);
      done.catch(() => this.subscribed.delete(userId));
    }
    return done;
  }

  unsubscribe(userId: string): void {
    if (!this.subscribed.delete(userId)) return;
    this.sub.unsubscribe(keys.userChannel(userId)).catch((err: unknown) => {
      this.logger.warn({ err, userId }, 'unsubscribe failed');
    });
  }

  /**
   * Resolves after every notification Redis published before this call has been routed: Redis
   * answers the PING on the subscriber connection after the messages queued before it.
   */
  async barrier(): Promise<void> {
    await this.sub.ping();
  }

  private route(channel: string, raw: string): void {
    const userId = keys.userOfChannel(channel);
    const note = userId ? parseNotification(raw) : null;
    if (!userId || !note) {
      this.logger.warn({ channel }, 'unreadable notification dropped');
      return;
    }
    if (note.kind === 'categories') {
      this.hub.setUserCategories(userId, note.categories);
      return;
    }
    this.bodies.remember(note.message);
    for (const session of this.hub.sessionsOf(userId)) session.deliverLive(note.message);
  }
}
