/**
 * Webhook endpoints in Redis (docs/WEBHOOKS.md): one hash per endpoint with its definition and its
 * status, the set of every id (the dispatchers read it), each producer's set (its bound, its list,
 * its deletes), each endpoint's dead letters. Everything on the slot `{herald:webhooks}`, so each
 * change is one script.
 */
import { createHash } from 'node:crypto';
import type { EventKind, WebhookState } from '@herald/types';
import type { HeraldRedis } from './client';
import { keys } from './keys';

/** What a producer asked for, and when. */
export interface WebhookDefinition {
  id: string;
  /** The token `sub` that made it. */
  owner: string;
  url: string;
  kinds: EventKind[];
  /** Only events of this category; null: every event of the kinds. */
  category: string | null;
  /** `whsec_<base64>`: signs the requests (never shown after the POST that made it). */
  secret: string;
  createdAt: number;
}

/** What became of it. */
export interface WebhookStatus {
  state: WebhookState;
  /** Epoch ms, when `disabled`. */
  disabledAt?: number;
  disabledReason?: string;
  lastFailureAt?: number;
  lastFailure?: string;
  /** Batches dead-lettered so far. */
  deadLetters: number;
}

export type WebhookEndpoint = WebhookDefinition & WebhookStatus;

/** A producer's key part: a digest of its `sub`, whatever characters that has. */
function ownerDigest(owner: string): string {
  return createHash('sha256').update(owner).digest('hex').slice(0, 32);
}

/** Registers an endpoint unless its owner has `max` already; false then (nothing written). */
export async function addWebhook(redis: HeraldRedis, endpoint: WebhookDefinition, max: number): Promise<boolean> {
  const fields = [
    'owner', endpoint.owner,
    'url', endpoint.url,
    'kinds', endpoint.kinds.join(','),
    'category', endpoint.category ?? '',
    'secret', endpoint.secret,
    'createdAt', String(endpoint.createdAt),
    'state', 'active',
  ];
  const added = await redis.addWebhook(
    keys.webhookIds,
    keys.webhookOwner(ownerDigest(endpoint.owner)),
    keys.webhookEndpoint(endpoint.id),
    max,
    endpoint.id,
    ...fields,
  );
  return added === 1;
}

/** Removes one of `owner`'s endpoints; false when it has none by that id (nothing written). */
export async function deleteWebhook(redis: HeraldRedis, owner: string, id: string): Promise<boolean> {
  const removed = await redis.deleteWebhook(
    keys.webhookIds,
    keys.webhookOwner(ownerDigest(owner)),
    keys.webhookEndpoint(id),
    keys.webhookDeadLetters(id),
    id,
  );
  return removed === 1;
}

/** One endpoint, or undefined when it does not exist (deleted). */
export async function readWebhook(redis: HeraldRedis, id: string): Promise<WebhookEndpoint | undefined> {
  return decode(id, await redis.hgetall(keys.webhookEndpoint(id)));
}

/** `owner`'s endpoints, oldest first. */
export async function listWebhooks(redis: HeraldRedis, owner: string): Promise<WebhookEndpoint[]> {
  return readMany(redis, await redis.smembers(keys.webhookOwner(ownerDigest(owner))));
}

/** Every endpoint of the deployment, oldest first (the dispatcher's view). */
export async function readAllWebhooks(redis: HeraldRedis): Promise<WebhookEndpoint[]> {
  return readMany(redis, await redis.smembers(keys.webhookIds));
}

async function readMany(redis: HeraldRedis, ids: string[]): Promise<WebhookEndpoint[]> {
  const hashes = await Promise.all(ids.map((id) => redis.hgetall(keys.webhookEndpoint(id))));
  return ids
    .map((id, i) => decode(id, hashes[i]))
    .filter((e): e is WebhookEndpoint => e !== undefined)
    .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
}

/** Records a failed request on the endpoint (GET shows it); nothing when it was deleted. */
export async function recordWebhookFailure(redis: HeraldRedis, id: string, at: number, reason: string): Promise<void> {
  await redis.webhookFailure(keys.webhookEndpoint(id), at, reason);
}

/**
 * Keeps a batch that will not be delivered (`entry`, JSON) in the endpoint's dead letters (at most
 * `keep`, newest first) and disables the endpoint with `reason`. False when it was deleted.
 */
export async function deadLetterWebhook(
  redis: HeraldRedis,
  id: string,
  entry: string,
  keep: number,
  at: number,
  reason: string,
): Promise<boolean> {
  return (await redis.deadLetterWebhook(keys.webhookEndpoint(id), keys.webhookDeadLetters(id), keep, entry, at, reason)) === 1;
}

/** The dead-lettered batches of an endpoint, newest first (JSON strings). */
export async function readWebhookDeadLetters(redis: HeraldRedis, id: string, count = 100): Promise<string[]> {
  return redis.lrange(keys.webhookDeadLetters(id), 0, count - 1);
}

function decode(id: string, h: Record<string, string>): WebhookEndpoint | undefined {
  if (!h.url) return undefined;
  const optionalNumber = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
  return {
    id,
    owner: h.owner,
    url: h.url,
    kinds: (h.kinds ? h.kinds.split(',') : []) as EventKind[],
    category: h.category ? h.category : null,
    secret: h.secret,
    createdAt: Number(h.createdAt),
    state: h.state === 'disabled' ? 'disabled' : 'active',
    disabledAt: optionalNumber(h.disabledAt),
    disabledReason: h.disabledReason,
    lastFailureAt: optionalNumber(h.lastFailureAt),
    lastFailure: h.lastFailure,
    deadLetters: Number(h.deadLetters ?? 0),
  };
}
