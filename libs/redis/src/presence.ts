/**
 * Presence: which sessions a user has open, on which gateway, since when (`GET /v1/presence`).
 *
 * Two parts, so that a gateway writes per session only when a session opens or closes, never per
 * session per heartbeat:
 * - per user, `{u:<id>}:presence` (hash: session id -> `<connectedAtMs>|<instance>`), written by
 *   the gateway at open (HSET) and close (HDEL). Its TTL (a few heartbeats) is refreshed once per
 *   heartbeat per user with sessions on the gateway, so a dead gateway's entries go on their own;
 * - per gateway instance, its liveness in `{herald:presence}:gateways` (sorted set: instance ->
 *   live until, Redis ms), pushed forward by a beat a few times per heartbeat period.
 * A reader trusts a session only while its instance is live: after a SIGKILL its sessions stop
 * counting when the last beat runs out, within one heartbeat period of the kill, whatever the
 * per-user TTLs. The instance is `<nonce>|<GATEWAY_ID>`: a gateway restarted under the same id
 * (a pod's container restarted) is a new instance, so its predecessor's sessions do not come back.
 *
 * On a Cluster each user's hash lives in the user's slot and the registry in its own; a reader
 * issues one HGETALL per user (auto-pipelined per node) and one read of the registry.
 */
import { randomBytes } from 'node:crypto';
import { keys } from './keys';
import type { HeraldRedis } from './client';

/** The registry forgets instances whose liveness ran out this long ago (dead processes). */
const PRUNE_AFTER_MS = 3_600_000;

export interface PresenceSession {
  sessionId: string;
  gatewayId: string;
  /** ISO-8601, the gateway's clock when it registered the session. */
  connectedAt: string;
}

export interface UserPresence {
  userId: string;
  online: boolean;
  /** Oldest first. */
  sessions: PresenceSession[];
}

/** A new instance id for a gateway process: `<nonce>|<gatewayId>` (the nonce never holds `|`). */
export function presenceInstance(gatewayId: string): string {
  return `${randomBytes(6).toString('hex')}|${gatewayId}`;
}

/** The GATEWAY_ID of an instance id. */
export function gatewayOfInstance(instance: string): string {
  return instance.slice(instance.indexOf('|') + 1);
}

function encodeEntry(instance: string, connectedAtMs: number): string {
  return `${connectedAtMs}|${instance}`;
}

function decodeEntry(value: string): { instance: string; connectedAtMs: number } | null {
  const bar = value.indexOf('|');
  const connectedAtMs = Number(value.slice(0, bar));
  if (bar <= 0 || !Number.isFinite(connectedAtMs)) return null;
  return { instance: value.slice(bar + 1), connectedAtMs };
}

/**
 * Register the instance as live for `liveForMs` from now (Redis's clock), and prune instances
 * dead for long. Resolves with the time it is live until (Redis ms).
 */
export function beatPresence(redis: HeraldRedis, instance: string, liveForMs: number): Promise<number> {
  return redis.beatPresence(keys.presenceGateways, instance, liveForMs, PRUNE_AFTER_MS);
}

/** Unregister the instance (graceful stop): its sessions stop counting at once. */
export async function retirePresence(redis: HeraldRedis, instance: string): Promise<void> {
  await redis.zrem(keys.presenceGateways, instance);
}

export interface OpenSession {
  userId: string;
  sessionId: string;
  connectedAtMs: number;
}

/** Record sessions as open on `instance`, and (re)start their users' keys' TTL. */
export async function openPresence(redis: HeraldRedis, instance: string, sessions: readonly OpenSession[], ttlMs: number): Promise<void> {
  const byUser = new Map<string, string[]>();
  for (const s of sessions) {
    const fields = byUser.get(s.userId) ?? [];
    fields.push(s.sessionId, encodeEntry(instance, s.connectedAtMs));
    byUser.set(s.userId, fields);
  }
  await Promise.all(
    [...byUser].flatMap(([userId, fields]) => [redis.hset(keys.presence(userId), ...fields), redis.pexpire(keys.presence(userId), ttlMs)]),
  );
}

/** Forget a session (closed). The key goes with its last field. */
export async function closePresence(redis: HeraldRedis, userId: string, sessionId: string): Promise<void> {
  await redis.hdel(keys.presence(userId), sessionId);
}

/**
 * Restart the TTL of these users' keys (auto-pipelined: one write per node). Resolves with the
 * users whose key was gone (expired while the gateway stalled, or Redis lost its data): the
 * caller writes their sessions again.
 */
export async function refreshPresence(redis: HeraldRedis, userIds: readonly string[], ttlMs: number): Promise<string[]> {
  const set = await Promise.all(userIds.map((userId) => redis.pexpire(keys.presence(userId), ttlMs)));
  return userIds.filter((_, i) => set[i] === 0);
}

/**
 * The presence of each user, in the order given (one entry per id, repeats included): the
 * sessions recorded whose gateway instance is live now. One read of the registry and one HGETALL
 * per distinct user, issued together.
 */
export async function readPresence(redis: HeraldRedis, userIds: readonly string[]): Promise<UserPresence[]> {
  const distinct = [...new Set(userIds)];
  const [live, hashes] = await Promise.all([
    redis.liveGateways(keys.presenceGateways),
    Promise.all(distinct.map((userId) => redis.hgetall(keys.presence(userId)))),
  ]);
  const liveSet = new Set(live);
  const byUser = new Map<string, UserPresence>();
  distinct.forEach((userId, i) => {
    const sessions: Array<PresenceSession & { at: number }> = [];
    for (const [sessionId, value] of Object.entries(hashes[i])) {
      const entry = decodeEntry(value);
      if (!entry || !liveSet.has(entry.instance)) continue;
      const at = entry.connectedAtMs;
      sessions.push({ sessionId, gatewayId: gatewayOfInstance(entry.instance), connectedAt: new Date(at).toISOString(), at });
    }
    sessions.sort((a, b) => a.at - b.at || (a.sessionId < b.sessionId ? -1 : 1));
    byUser.set(userId, { userId, online: sessions.length > 0, sessions: sessions.map(({ sessionId, gatewayId, connectedAt }) => ({ sessionId, gatewayId, connectedAt })) });
  });
  return userIds.map((userId) => byUser.get(userId)!);
}
