/**
 * Live delivery: one subscriber (on a Cluster, one connection per master, ioredis
 * `shardedSubscribers`) SSUBSCRIBEd to the channel of every user with a session here. Each
 * notification is applied through the hub to the user's sessions, strictly in arrival order:
 * Redis keeps one channel's notifications in publish order, and that is ingest order.
 *
 * A reference note (category fan-out) names a body to read. While it is read, later notes wait
 * behind it in `queue`, so order holds; every note naming the same id shares the one read.
 *
 * The subscription is counted by the hub (first session subscribes, last one unsubscribes), and
 * concurrent connects of one user share the same subscribe round trip. The subscribes and
 * unsubscribes of one turn go together (channel-commands.ts).
 *
 * The same subscriber holds the channel of every category with a session here (the hub says when
 * one opens and closes): a category message comes once per gateway, and goes to the category's
 * sessions from memory, with the entry's id in the category's log (sessions skip entries they
 * have; category-cursors.ts). One category's notes arrive in log order. The entry goes to
 * `fanoutPerTurn` sessions a turn at most (FANOUT_SESSIONS_PER_TURN), the rest in the turns after:
 * the first sessions' exposures are logged and their frames written while the rest are prepared,
 * and pings, connects and acks are served between. The notes behind it wait in `queue` until every
 * session has it, so order holds.
 *
 * A note that replaces an older message with the same replace key (`replaces`) goes out with
 * `"replaces":"<old id>"` in its frame: that frame is built once per note and shared by the
 * note's sessions; the body cache keeps the message as stored, so a later drain sends it without.
 */
import { randomUUID } from 'node:crypto';
import {
  barrierNote,
  keys,
  parseNotification,
  withReplaces,
  type EncodedMessage,
  type HeraldRedis,
  type Notification,
} from '@herald/redis';
import type { Logger } from '@herald/logger';
import { withTimeout } from '@herald/http';
import type { Hub } from '../sessions/hub';
import type { Session } from '../sessions/session';
import type { BodyStore } from './body-store';
import { ChannelCommands } from './channel-commands';

/** A notification waiting for its turn; `body` is undefined while a referenced body is read. */
interface Queued {
  /** The channel's owner: a user's id, or a category's name for a category entry. */
  owner: string;
  note: Notification;
  body?: EncodedMessage | null;
  /** A category entry's fan-out under way: the sessions still to visit, and the message. */
  fanout?: { sessions: Iterator<Session>; message: EncodedMessage };
}

export interface LiveRouterOptions {
  barrierTimeoutMs?: number;
  /** FANOUT_SESSIONS_PER_TURN: a category entry's sessions visited in one turn, at most. */
  fanoutPerTurn: number;
}

export class LiveRouter {
  private readonly subscribed = new Map<string, Promise<void>>();
  private readonly categories = new Map<string, Promise<void>>();
  private readonly barriers = new Map<string, () => void>();
  private readonly queue: Queued[] = [];
  private readonly reading = new Map<string, Queued[]>();
  private onControl?: (raw: Buffer) => void;
  private stopped = false;
  /** The next turn's pump, while a fan-out goes on. */
  private resume?: NodeJS.Immediate;
  private readonly barrierTimeoutMs: number;
  private readonly fanoutPerTurn: number;
  /** The users' and categories' SSUBSCRIBE / SUNSUBSCRIBE, gathered per turn. */
  private readonly channels: ChannelCommands;

  constructor(
    private readonly sub: HeraldRedis,
    private readonly commands: HeraldRedis,
    private readonly hub: Hub,
    private readonly bodies: BodyStore,
    private readonly logger: Logger,
    { barrierTimeoutMs = 10_000, fanoutPerTurn }: LiveRouterOptions,
  ) {
    this.barrierTimeoutMs = barrierTimeoutMs;
    this.fanoutPerTurn = fanoutPerTurn;
    // Bytes, not strings: a message frame goes out to the sockets as the bytes that came in.
    sub.on('smessageBuffer', (channel: Buffer, raw: Buffer) => this.route(channel.toString(), raw));
    this.channels = new ChannelCommands(sub, () => this.ready());
  }

  /** The hub's first session in `category`: subscribe to its channel. */
  subscribeCategory(category: string): void {
    const done = this.ready().then(() => this.channels.subscribe(keys.categoryChannel(category)));
    this.categories.set(category, done);
    done.catch((err: unknown) => {
      this.logger.warn({ err, category }, 'category subscribe failed');
      if (this.categories.get(category) === done) this.categories.delete(category);
    });
  }

  /** The hub's last session in `category` is gone. */
  unsubscribeCategory(category: string): void {
    if (!this.categories.delete(category)) return;
    this.channels.unsubscribe(keys.categoryChannel(category)).catch((err: unknown) => {
      this.logger.warn({ err, category }, 'category unsubscribe failed');
    });
  }

  /**
   * Resolves once the channels of `categories` (open in the hub) are subscribed; rejects if one
   * failed. A channel whose subscribe failed before is asked for again (the hub opens a category
   * once, when its first session comes).
   */
  async categoriesReady(categories: readonly string[]): Promise<void> {
    await Promise.all(
      categories.map((c) => {
        if (!this.categories.has(c)) this.subscribeCategory(c);
        return this.categories.get(c);
      }),
    );
  }

  /** Resolves once the user's channel is subscribed (notifications from then on reach us). */
  subscribe(userId: string): Promise<void> {
    let done = this.subscribed.get(userId);
    if (!done) {
      done = this.ready().then(() => this.channels.subscribe(keys.userChannel(userId)));
      this.subscribed.set(userId, done);
      done.catch(() => this.subscribed.delete(userId));
    }
    return done;
  }

  /**
   * The subscriber connection is ready. ioredis must not be asked to SSUBSCRIBE while it is still
   * connecting (its ready check then runs on a connection already in subscriber mode, fails, and
   * the connection starts over); after a reconnect it resubscribes the channels itself.
   */
  private ready(): Promise<void> {
    if (this.sub.status === 'ready') return Promise.resolve();
    let onReady!: () => void;
    const ready = new Promise<void>((resolve) => this.sub.once('ready', (onReady = resolve)));
    return withTimeout(ready, this.barrierTimeoutMs, "the Redis subscriber's connect").finally(() => this.sub.off('ready', onReady));
  }

  unsubscribe(userId: string): void {
    if (!this.subscribed.delete(userId)) return;
    this.channels.unsubscribe(keys.userChannel(userId)).catch((err: unknown) => {
      this.logger.warn({ err, userId }, 'unsubscribe failed');
    });
  }

  /**
   * Resolves after every notification published on the user's channel before this call has been
   * applied: a marker is published on the channel, and one channel's notifications arrive in
   * publish order (on a Cluster too: a channel lives on one shard).
   */
  barrier(userId: string): Promise<void> {
    const token = randomUUID();
    const marker = new Promise<void>((resolve) => this.barriers.set(token, resolve));
    const published = this.commands.spublish(keys.userChannel(userId), barrierNote(token));
    return withTimeout(
      Promise.all([marker, published]).then(() => undefined),
      this.barrierTimeoutMs,
      `the barrier round trip for ${userId}`,
    ).finally(() => this.barriers.delete(token));
  }

  /**
   * Listen to the control channel (updates and recalls, message-changes.ts): at start, and again
   * after a failure until it holds (ioredis subscribes it again itself after a reconnect).
   */
  subscribeControl(onNote: (raw: Buffer) => void, retryMs = 1000): void {
    this.onControl = onNote;
    if (this.stopped) return;
    this.ready()
      .then(async () => void (await this.sub.ssubscribe(keys.controlChannel)))
      .catch((err: unknown) => {
        this.logger.warn({ err }, 'control channel subscribe failed; trying again');
        setTimeout(() => this.subscribeControl(onNote, retryMs), retryMs).unref();
      });
  }

  /** No more control subscribe attempts (the gateway is closing). */
  stop(): void {
    this.stopped = true;
  }

  private route(channel: string, raw: Buffer): void {
    if (channel === keys.controlChannel) {
      this.onControl?.(raw);
      return;
    }
    const owner = keys.userOfChannel(channel) ?? keys.categoryOfChannel(channel);
    const note = owner ? parseNotification(raw) : null;
    if (!owner || !note) {
      this.logger.warn({ channel }, 'unreadable notification dropped');
      return;
    }
    const item: Queued = { owner, note };
    if (note.kind === 'entry' && note.message) {
      this.bodies.remember(note.message);
      item.body = note.message;
    } else if (note.kind === 'ref' || note.kind === 'entry') {
      const cached = this.bodies.peek(note.id);
      if (cached) item.body = cached;
      else this.read(note.id, item);
    }
    this.queue.push(item);
    if (this.queue.length === 1) this.pump();
  }

  /** Read a referenced body once for every note that names it. */
  private read(id: string, item: Queued): void {
    const waiting = this.reading.get(id);
    if (waiting) {
      waiting.push(item);
      return;
    }
    const group = [item];
    this.reading.set(id, group);
    this.bodies.getMany([id]).then(
      ([body]) => this.settle(id, group, body),
      (err: unknown) => {
        // The id stays in the users' inboxes: their next connection delivers it.
        this.logger.warn({ err, messageId: id }, 'body read failed; live delivery skipped');
        this.settle(id, group, null);
      },
    );
  }

  private settle(id: string, group: Queued[], body: EncodedMessage | null): void {
    this.reading.delete(id);
    for (const item of group) item.body = body;
    this.pump();
  }

  /**
   * Apply queued notes from the head, up to the first whose body is still being read, or whose
   * fan-out goes on next turn.
   */
  private pump(): void {
    let done = 0;
    for (; done < this.queue.length; done++) {
      const item = this.queue[done];
      if ((item.note.kind === 'ref' || item.note.kind === 'entry') && item.body === undefined) break;
      if (!this.apply(item)) {
        this.resume ??= setImmediate(() => {
          this.resume = undefined;
          this.pump();
        });
        break;
      }
    }
    this.queue.splice(0, done);
  }

  /** Apply one note; false when a category entry has sessions left for the next turn. */
  private apply(item: Queued): boolean {
    const { owner, note, body } = item;
    switch (note.kind) {
      case 'categories':
        this.hub.setUserCategories(owner, note.categories);
        return true;
      case 'barrier':
        this.barriers.get(note.token)?.();
        return true;
      case 'message':
        this.bodies.remember(note.message);
        this.deliver(owner, replacing(note.message, note.replaces));
        return true;
      case 'ref':
        if (body) this.deliver(owner, replacing(body, note.replaces));
        return true;
      case 'entry': {
        if (!body) return true;
        // The category's set itself: a session that leaves it meanwhile is not visited, one that
        // joins is (while its drain runs, which skips what it pushed).
        const fanout = (item.fanout ??= { sessions: this.hub.sessionsIn(owner).values(), message: replacing(body, note.replaces) });
        for (let n = 0; n < this.fanoutPerTurn; n++) {
          const next = fanout.sessions.next();
          if (next.done) return true;
          next.value.deliverLive(fanout.message, owner, note.entry);
        }
        return false;
      }
    }
  }

  private deliver(userId: string, message: EncodedMessage): void {
    for (const session of this.hub.sessionsOf(userId)) session.deliverLive(message);
  }
}

/** The message as a note that replaces `oldId` delivers it (see the header). */
function replacing(message: EncodedMessage, oldId: string | undefined): EncodedMessage {
  return oldId === undefined ? message : withReplaces(message, oldId);
}
