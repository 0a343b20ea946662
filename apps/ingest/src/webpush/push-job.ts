/**
 * One Web Push job: a message for one user who had no live session when it was delivered. When it
 * runs it looks again (docs/WEBPUSH.md), and sends nothing when the user has connected meanwhile
 * (presence: the app shows the message itself, no double nudge), when the id has left the user's
 * offline list (acked on another device, recalled, replaced, expired), or when the message has
 * expired. For a category message (category-push.ts queued it): when the user's position in the
 * category is at or past the message's entry (read), or the user is no longer a member. Otherwise one push per subscription the job has not finished with:
 *
 * - 2xx `sent`; 404/410 `gone` (the subscription is removed); another 4xx, or an endpoint that now
 *   resolves to an address it may not reach, `failed` for good;
 * - 429 `throttled`: the job waits the Retry-After (at most WEBPUSH_MAX_RETRY_AFTER_SECONDS; the
 *   backoff without one) and tries the throttled ones again, at most WEBPUSH_ATTEMPTS times;
 * - a timeout, a network error, a 5xx: tried again after the queue's backoff, and `failed` on the
 *   last attempt.
 * Subscriptions finished are kept in the job's data, so a retry sends only to the others.
 */
import type { Job } from 'bullmq';
import { createHash } from 'node:crypto';
import { EndpointRefused } from '@herald/http';
import type { Logger } from '@herald/logger';
import { compareEntryIds, keys, listPushSubscriptions, readPresence, removeGonePushSubscription, type HeraldRedis, type StoredPushSubscription } from '@herald/redis';
import { webPushBody, type WebPushNotification, type WebPushStatus, type WebPushUrgency } from '@herald/types';
import type { IngestMetrics } from '../metrics';
import { webPushEvent, type EventOutbox, type OutboxEvent } from '../events/event-outbox';
import { sendPush, type PushAnswer, type PushClientOptions } from './push-request';

export interface PushJobData {
  messageId: string;
  userId: string;
  notification: WebPushNotification;
  urgency?: WebPushUrgency;
  /** The message's replace key, as its RFC 8030 Topic. */
  replaceKey?: string;
  /** A category message (category-push.ts): its category and log entry; read means position ≥ entry. */
  category?: string;
  entry?: string;
  /** Epoch ms. */
  expiresAt: number;
  /** Subscription ids finished with (sent, gone, failed for good): a retry skips them. */
  done?: string[];
  /** 429s met so far. */
  throttles?: number;
}

export type PushJobOutcome = 'skipped_online' | 'skipped_read' | 'skipped_not_member' | 'skipped_expired' | 'no_subscriptions' | 'done';

/** The job must wait this long (429's Retry-After), then run again. */
export class PushThrottled extends Error {
  constructor(readonly delayMs: number) {
    super(`throttled by the push service; again in ${delayMs} ms`);
    this.name = 'PushThrottled';
  }
}

export interface PushJobDeps {
  redis: HeraldRedis;
  client: PushClientOptions;
  events: EventOutbox | undefined;
  metrics: IngestMetrics;
  log: Logger;
  attempts: number;
  backoffMs: number;
  maxRetryAfterMs: number;
}

/** RFC 8030 Topic: at most 32 characters of base64url, so a digest of the replace key. */
export const topicOf = (replaceKey: string): string => createHash('sha256').update(replaceKey).digest('base64url').slice(0, 32);

type Result = { kind: 'final'; status: WebPushStatus; httpStatus?: number } | { kind: 'throttled'; httpStatus: number; retryMs?: number } | { kind: 'retry'; why: string };

function classify(answer: PushAnswer): Result {
  const { status } = answer;
  if (status >= 200 && status < 300) return { kind: 'final', status: 'sent', httpStatus: status };
  if (status === 404 || status === 410) return { kind: 'final', status: 'gone', httpStatus: status };
  if (status === 429) return { kind: 'throttled', httpStatus: status, retryMs: answer.retryAfterMs };
  if (status >= 500 || status === 408) return { kind: 'retry', why: `HTTP ${status}` };
  return { kind: 'final', status: 'failed', httpStatus: status };
}

async function attempt(deps: PushJobDeps, data: PushJobData, sub: StoredPushSubscription): Promise<Result> {
  try {
    const answer = await sendPush(
      {
        subscription: { endpoint: sub.endpoint, keys: sub.keys },
        body: webPushBody(data.messageId, data.notification),
        ttlSeconds: Math.max(0, Math.ceil((data.expiresAt - Date.now()) / 1000)),
        urgency: data.urgency,
        topic: data.replaceKey ? topicOf(data.replaceKey) : undefined,
      },
      deps.client,
    );
    const result = classify(answer);
    if (result.kind !== 'final' || result.status !== 'sent') {
      deps.log.info({ userId: data.userId, subscriptionId: sub.id, status: answer.status, answer: answer.text }, 'push service refused a push');
    }
    return result;
  } catch (err) {
    if (err instanceof EndpointRefused) {
      deps.log.warn({ userId: data.userId, subscriptionId: sub.id, err }, 'push endpoint refused (not a public address)');
      return { kind: 'final', status: 'failed' };
    }
    return { kind: 'retry', why: (err as Error).message };
  }
}

/** Why nothing is to be sent, or undefined to go on. */
async function skipReason(redis: HeraldRedis, data: PushJobData): Promise<PushJobOutcome | undefined> {
  if (Date.now() >= data.expiresAt) return 'skipped_expired';
  const [[presence], unread] = await Promise.all([readPresence(redis, [data.userId]), unreadReason(redis, data)]);
  if (presence.online) return 'skipped_online';
  return unread;
}

/** 'skipped_read' when the user has the message no more, 'skipped_not_member' when it is a category's the user left. */
async function unreadReason(redis: HeraldRedis, data: PushJobData): Promise<PushJobOutcome | undefined> {
  if (data.category === undefined || data.entry === undefined) {
    return (await redis.lpos(keys.inbox(data.userId), data.messageId)) === null ? 'skipped_read' : undefined;
  }
  const position = await redis.hget(keys.categoryPositions(data.userId), data.category);
  if (position === null) return 'skipped_not_member';
  return compareEntryIds(position, data.entry) >= 0 ? 'skipped_read' : undefined;
}

/** Run one job (see the header). Throws to be retried (PushThrottled: after a given delay). */
export async function runPushJob(deps: PushJobDeps, job: Job<PushJobData>): Promise<PushJobOutcome> {
  const data = job.data;
  const skip = await skipReason(deps.redis, data);
  if (skip) return skip;
  const done = new Set(data.done ?? []);
  const subs = (await listPushSubscriptions(deps.redis, data.userId)).filter((s) => !done.has(s.id));
  if (subs.length === 0) return done.size === 0 ? 'no_subscriptions' : 'done';

  const lastAttempt = job.attemptsMade + 1 >= deps.attempts;
  const throttles = data.throttles ?? 0;
  const events: OutboxEvent[] = [];
  const event = (sub: StoredPushSubscription, status: WebPushStatus, httpStatus?: number, n?: number) =>
    events.push(webPushEvent({ messageId: data.messageId, userId: data.userId, subscriptionId: sub.id, status, httpStatus, attempt: n }));
  let retry = false;
  let throttledFor: number | undefined;
  const results = await Promise.all(subs.map(async (sub) => ({ sub, result: await attempt(deps, data, sub) })));
  for (const { sub, result } of results) {
    if (result.kind === 'final') {
      done.add(sub.id);
      deps.metrics.webPushes.inc({ outcome: result.status });
      event(sub, result.status, result.httpStatus);
      if (result.status === 'gone' && (await removeGonePushSubscription(deps.redis, data.userId, sub))) deps.metrics.webPushRemoved.inc();
    } else if (result.kind === 'throttled') {
      deps.metrics.webPushes.inc({ outcome: 'throttled' });
      event(sub, 'throttled', result.httpStatus, throttles + 1);
      if (throttles + 1 >= deps.attempts) {
        done.add(sub.id);
        deps.metrics.webPushes.inc({ outcome: 'failed' });
        event(sub, 'failed', result.httpStatus);
      } else throttledFor = Math.max(throttledFor ?? 0, Math.min(result.retryMs ?? deps.backoffMs, deps.maxRetryAfterMs));
    } else if (lastAttempt) {
      done.add(sub.id);
      deps.metrics.webPushes.inc({ outcome: 'failed' });
      event(sub, 'failed');
      deps.log.warn({ userId: data.userId, subscriptionId: sub.id, why: result.why, attempts: job.attemptsMade + 1 }, 'push failed; out of attempts');
    } else {
      retry = true;
      deps.metrics.webPushes.inc({ outcome: 'retried' });
    }
  }
  await deps.events?.append(events);
  if (throttledFor === undefined && !retry) return 'done';
  await job.updateData({ ...data, done: [...done], throttles: throttledFor === undefined ? throttles : throttles + 1 });
  if (throttledFor !== undefined) throw new PushThrottled(throttledFor);
  throw new Error('some pushes failed; retrying');
}
