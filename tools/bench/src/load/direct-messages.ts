/**
 * Messages written straight to Redis the way ingest writes them (send-message.ts): the body
 * stored once, then one atomic `deliver` per recipient (inbox append, cap, notification to the
 * user's gateways). Much faster than HTTP for hundreds of thousands of deliveries, and what a
 * gateway sees is the same: an inbox entry and a live note.
 */
import { randomUUID } from 'node:crypto';
import type { Message } from '@herald/types';
import { closeRedis, createRedis, deliverToUser, keys, messageNote, storeMessage, type HeraldRedis } from '@herald/redis';

/** Ingest's INBOX_CAP default. */
export const INBOX_CAP = 1000;
/** Deliveries issued at once; ioredis auto-pipelining sends each turn's commands together. */
const DELIVER_CHUNK = 5000;
const TTL_MS = 3600_000;
/** Each inbox as ingest keeps it: capped, alive as long as its longest message. */
const INBOX = { cap: INBOX_CAP, inboxTtlSeconds: TTL_MS / 1000 };

export class DirectWriter {
  private closing: Promise<void> | undefined;

  private constructor(readonly redis: HeraldRedis) {}

  static connect(redisUrl: string): DirectWriter {
    return new DirectWriter(createRedis({ REDIS_URL: redisUrl, REDIS_CLUSTER_NODES: undefined }, 'commands', 'bench'));
  }

  /** One message to `userIds` (a userIds message of ingest); returns its id. */
  async send(userIds: readonly string[], payload: unknown, signal?: AbortSignal): Promise<string> {
    const now = Date.now();
    const message: Message = { id: randomUUID(), category: null, payload, createdAt: new Date(now).toISOString(), expiresAt: now + TTL_MS };
    const note = messageNote(await storeMessage(this.redis, message));
    for (let start = 0; start < userIds.length; start += DELIVER_CHUNK) {
      signal?.throwIfAborted();
      await Promise.all(
        userIds.slice(start, start + DELIVER_CHUNK).map((userId) => deliverToUser(this.redis, userId, message.id, note, INBOX)),
      );
    }
    return message.id;
  }

  /** Ids left in the inboxes of `userIds`, all together (LLEN, pipelined). */
  async inboxTotal(userIds: readonly string[]): Promise<number> {
    let total = 0;
    for (let start = 0; start < userIds.length; start += DELIVER_CHUNK) {
      const lengths = await Promise.all(userIds.slice(start, start + DELIVER_CHUNK).map((userId) => this.redis.llen(keys.inbox(userId))));
      for (const n of lengths) total += n;
    }
    return total;
  }

  close(): Promise<void> {
    this.closing ??= closeRedis(this.redis);
    return this.closing;
  }
}
