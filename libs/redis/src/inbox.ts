/**
 * A user's offline list: the ids of messages not yet acknowledged, oldest first. It expires
 * `inboxTtlSeconds` (the longest message TTL) after its last write: by then every id in it has
 * expired, so a user who never comes back costs nothing.
 */
import { keyAround, keys } from './keys';
import type { DeliverReply, HeraldRedis, HeraldScripts } from './client';

export interface DeliverOptions {
  /** Longest the inbox may grow; the oldest ids are dropped past it. */
  cap: number;
  /**
   * Skip the user when the inbox already holds the id. For writes that may run twice (a retried
   * request, a resumed fan-out job): a second run then neither duplicates the id nor notifies.
   */
  unique?: boolean;
  /** The inbox's lifetime from this write on: the longest message TTL (MESSAGE_MAX_TTL_SECONDS). */
  inboxTtlSeconds: number;
  /**
   * Remember, this long (IDEMPOTENCY_TTL_SECONDS), that the user got the id: a retry under the same
   * Idempotency-Key (`unique`) then skips the user even after the id was acknowledged and left
   * the inbox. At most `cap` such ids are remembered per user, the oldest forgotten first.
   */
  rememberSeconds?: number;
  /**
   * The message's replace key: the user's last message with it (`{u:<id>}:rk`) leaves the inbox in
   * the same step, and the note tells the gateways which id this one replaces (`x<id>|…`).
   */
  replaceKey?: string;
  /**
   * Report the users no gateway holds a session of when the note went out (SPUBLISH reached no
   * subscriber): `Delivery.offline`, `DeliveryCounts.offlineUserIds`. For Web Push (ingest).
   */
  reportOffline?: boolean;
}

/** The `dropped` of `deliverToUser` when `unique` found the id already delivered. */
export const ALREADY_DELIVERED = -1;

/** What one delivery did. */
export interface Delivery {
  /** Old ids the cap dropped, or ALREADY_DELIVERED (nothing else was done). */
  dropped: number;
  /** Ids the replace key removed from the inbox (0 or 1). */
  replaced: number;
  /** The ids the cap dropped (oldest first), when it dropped any. */
  droppedIds?: string[];
  /** With `reportOffline`: true when the note reached no gateway (no live session of the user). */
  offline?: boolean;
}

/** The keys of one user's delivery, in the `deliver` script's order (deliver-4.lua, send-chunk-n.lua). */
const DELIVER_KEY_OF = [keys.inbox, keys.userChannel, keys.idempotentDeliveries, keys.userReplaceKeys] as const;

export function deliverKeys(userId: string): [string, string, string, string] {
  const [inbox, channel, idempotent, replaceKeys] = DELIVER_KEY_OF;
  return [inbox(userId), channel(userId), idempotent(userId), replaceKeys(userId)];
}

/** The same keys as the text around the user's id (RespWriter.stringAround writes them with no string made). */
export const DELIVER_KEYS_AROUND = DELIVER_KEY_OF.map(keyAround);

/** The arguments of one user's `deliver` script call (see deliverToUser). */
export function deliverArgs(userId: string, messageId: string, note: string, opts: DeliverOptions): Parameters<HeraldScripts['deliver']> {
  return [
    ...deliverKeys(userId),
    messageId,
    opts.cap,
    note,
    opts.unique ? '1' : '0',
    opts.inboxTtlSeconds,
    opts.rememberSeconds ?? 0,
    opts.replaceKey ?? '',
  ];
}

/**
 * Append the message to the user's inbox, trim to the cap, replace the user's last message with
 * the same replace key and notify the user's gateways, in one atomic step. `note` is from
 * `liveNote` (body inside or a reference) or `refNote(id)`.
 */
export async function deliverToUser(redis: HeraldRedis, userId: string, messageId: string, note: string, opts: DeliverOptions): Promise<Delivery> {
  return deliveryOf(await redis.deliver(...deliverArgs(userId, messageId, note, opts)), opts);
}

/** The `deliver` script's reply (deliver-4.lua: also each delivery of send-chunk-n.lua) as a Delivery. */
export function deliveryOf([dropped, replaced, receivers, ...droppedIds]: DeliverReply, opts: Pick<DeliverOptions, 'reportOffline'>): Delivery {
  const delivery: Delivery = droppedIds.length > 0 ? { dropped, replaced, droppedIds } : { dropped, replaced };
  if (opts.reportOffline && dropped !== ALREADY_DELIVERED && receivers === 0) delivery.offline = true;
  return delivery;
}

/** All ids in the inbox, oldest first (bounded by the inbox cap). */
export function readInbox(redis: HeraldRedis, userId: string): Promise<string[]> {
  return redis.lrange(keys.inbox(userId), 0, -1);
}

export interface SessionSnapshot {
  categories: string[];
  /** The inbox, oldest first. */
  ids: string[];
  /** The user's read position in each category's log (category-log.ts); a category without one reads its whole log. */
  positions: Map<string, string>;
}

/** The user's categories, inbox and category positions, read together in one atomic step (one slot). */
export async function readSnapshot(redis: HeraldRedis, userId: string): Promise<SessionSnapshot> {
  const [categories, ids, flat] = await redis.snapshot(keys.userCategories(userId), keys.inbox(userId), keys.categoryPositions(userId));
  const positions = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) positions.set(flat[i], flat[i + 1]);
  return { categories: categories.sort(), ids, positions };
}

/**
 * Most ids one `removeIds` script call carries. Every id costs an LREM scan of the inbox, and the
 * ids are a call's arguments: a long list would block Redis in one script and overflow the call
 * stack when spread into the call, so longer lists go in several calls.
 */
export const REMOVE_CHUNK = 500;

/**
 * Remove ids (acknowledged or expired) from the inbox, in calls of at most REMOVE_CHUNK ids
 * (auto-pipelined together); returns how many entries went.
 */
export async function removeFromInbox(redis: HeraldRedis, userId: string, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const inbox = keys.inbox(userId);
  const calls: Promise<number>[] = [];
  for (let start = 0; start < ids.length; start += REMOVE_CHUNK) {
    calls.push(redis.removeIds(inbox, ...ids.slice(start, start + REMOVE_CHUNK)));
  }
  const removed = await Promise.all(calls);
  return removed.reduce((sum, n) => sum + n, 0);
}
