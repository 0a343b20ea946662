/**
 * A user's Web Push subscriptions (issue 19, docs/WEBPUSH.md), in the user's slot
 * (`{u:<id>}:webpush`, hash: id -> JSON). The gateway saves and deletes them for the user's own
 * token; ingest's Web Push worker reads them and removes one its push service says is gone.
 *
 * A subscription's id is a digest of its endpoint: the same browser subscribing again (a renewal
 * with new keys, a page loaded twice) replaces its entry instead of adding one, and the id says
 * nothing about the endpoint.
 */
import { createHash } from 'node:crypto';
import type { PushSubscriptionInput } from '@herald/types';
import { keys } from './keys';
import type { HeraldRedis } from './client';

export interface StoredPushSubscription extends PushSubscriptionInput {
  id: string;
  /** The User-Agent of the registering request (at most 256 characters), for the user's own listing and operators. */
  userAgent: string;
  /** ISO-8601. */
  createdAt: string;
}

/** The id of the subscription with this endpoint: 22 characters of base64url (128 bits of SHA-256). */
export function pushSubscriptionId(endpoint: string): string {
  return createHash('sha256').update(endpoint).digest('base64url').slice(0, 22);
}

/**
 * Save a subscription (a new one, or the same endpoint again); false when the user holds `max`
 * others already (nothing written).
 */
export async function savePushSubscription(redis: HeraldRedis, userId: string, sub: StoredPushSubscription, max: number): Promise<boolean> {
  const { id, endpoint, keys: k, userAgent, createdAt } = sub;
  const value = JSON.stringify({ endpoint, keys: { p256dh: k.p256dh, auth: k.auth }, userAgent, createdAt });
  return (await redis.savePushSubscription(keys.pushSubscriptions(userId), id, value, max)) === 1;
}

/** Delete one; true when it existed. */
export async function deletePushSubscription(redis: HeraldRedis, userId: string, id: string): Promise<boolean> {
  return (await redis.hdel(keys.pushSubscriptions(userId), id)) === 1;
}

/**
 * Delete one only while it still has this endpoint and keys (a push service said it is gone):
 * a subscription saved again meanwhile with new keys stays. True when deleted.
 */
export async function removeGonePushSubscription(redis: HeraldRedis, userId: string, sub: StoredPushSubscription): Promise<boolean> {
  const key = keys.pushSubscriptions(userId);
  const current = await redis.hget(key, sub.id);
  if (current === null) return false;
  const parsed = parse(sub.id, current);
  if (!parsed || parsed.keys.p256dh !== sub.keys.p256dh || parsed.keys.auth !== sub.keys.auth) return false;
  return (await redis.hdel(key, sub.id)) === 1;
}

/** The user's subscriptions, oldest first; an entry that does not parse is skipped. */
export async function listPushSubscriptions(redis: HeraldRedis, userId: string): Promise<StoredPushSubscription[]> {
  const all = await redis.hgetall(keys.pushSubscriptions(userId));
  return Object.entries(all)
    .map(([id, value]) => parse(id, value))
    .filter((s): s is StoredPushSubscription => s !== undefined)
    .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
}

function parse(id: string, value: string): StoredPushSubscription | undefined {
  try {
    const v = JSON.parse(value) as Omit<StoredPushSubscription, 'id'>;
    if (typeof v.endpoint !== 'string' || typeof v.keys?.p256dh !== 'string' || typeof v.keys?.auth !== 'string') return undefined;
    return { id, endpoint: v.endpoint, keys: { p256dh: v.keys.p256dh, auth: v.keys.auth }, userAgent: String(v.userAgent ?? ''), createdAt: String(v.createdAt ?? '') };
  } catch {
    return undefined;
  }
}
