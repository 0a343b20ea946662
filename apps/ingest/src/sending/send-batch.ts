/**
 * Accepting a batch of messages (POST /v1/messages/batch), apart from HTTP: each valid item is
 * sent as POST /v1/messages would send it, with the same idempotency rules per item, and every
 * item gets its own result, in the items' order.
 *
 * 1. Idempotency keys, all at once (auto-pipelined): a key with its recorded answer is a replay;
 *    a key claimed gives its message id. An item whose key an earlier item of the same batch
 *    holds answers that item's result (same body) or IDEMPOTENCY_KEY_REUSED (another body).
 * 2. The messages, through `sendBatch` of the write protocol (one round trip per chunk; a
 *    category message's body and its append to the category's log in the same one).
 * 3. The answers of the claimed keys.
 * A failure costs only its own item (a 5xx code in its result); the others are sent.
 */
import type { FastifyError } from 'fastify';
import { toHeraldError } from '@herald/http';
import type { Logger } from '@herald/logger';
import { DeliveryError, fingerprint, keys, noDeliveries, sendBatch, type BatchOutcome } from '@herald/redis';
import { HeraldError, type ErrorBody } from '@herald/types';
import { factsOf, messageOf, queueWebPush, type SendMessageDeps, type SendMessageInput } from './send-message';
import { sentEvents, type OutboxEvent } from '../events/event-outbox';
import { claimKey, recordAnswer, type Answer } from './idempotent';

/** A valid item: the send it asks for and, with an idempotencyKey, the key and the body it guards. */
export interface BatchItem {
  input: SendMessageInput;
  /** `body`: the item as validated, without its key (what its fingerprint is of). */
  idempotency?: { key: string; body: unknown };
}

export type ItemResult = Answer | ErrorBody;

export interface BatchDeps extends SendMessageDeps {
  logger: Logger;
  /** The token's subject: idempotency keys are per producer. */
  producer: string;
  leaseMs: number;
  /** IDEMPOTENCY_TTL_SECONDS. */
  idempotencyTtlSeconds: number;
}

/** An item to send, with its claimed key's id and time when it has a key. */
interface Send {
  index: number;
  item: BatchItem;
  claimed?: { id: string; createdAt: number };
}

function errorResult(deps: BatchDeps, err: unknown): ErrorBody {
  const herald = toHeraldError((err instanceof DeliveryError ? err.cause : err) as FastifyError);
  if (herald.status >= 500) deps.logger.error({ err }, 'batch item failed');
  return herald.toBody();
}

/** Step 1: the keys. Fills `results` for replays and refusals; returns the items to send, in order. */
async function claimKeys(deps: BatchDeps, items: (BatchItem | HeraldError)[], results: ItemResult[]): Promise<{ sends: Send[]; aliases: [number, number][] }> {
  const sends: Send[] = [];
  const aliases: [number, number][] = [];
  const holder = new Map<string, number>();
  const claims = items.map(async (item, index) => {
    if (item instanceof HeraldError) return void (results[index] = item.toBody());
    if (!item.idempotency) return void sends.push({ index, item });
    const { key, body } = item.idempotency;
    const first = holder.get(key);
    if (first !== undefined) {
      const same = fingerprint((items[first] as BatchItem).idempotency?.body) === fingerprint(body);
      if (same) aliases.push([index, first]);
      else results[index] = new HeraldError('IDEMPOTENCY_KEY_REUSED').toBody();
      return;
    }
    holder.set(key, index);
    const opts = { redis: deps.redis, producer: deps.producer, key, body, leaseMs: deps.leaseMs, ttlSeconds: deps.idempotencyTtlSeconds };
    try {
      const claim = await claimKey(opts);
      if ('replayed' in claim) {
        deps.metrics.replayed.inc();
        results[index] = claim.replayed;
      } else sends.push({ index, item, claimed: claim.claimed });
    } catch (err) {
      results[index] = errorResult(deps, err);
    }
  });
  await Promise.all(claims);
  return { sends: sends.sort((a, b) => a.index - b.index), aliases };
}

/** Steps 2 and 3 for the items to send; fills their results. */
async function sendItems(deps: BatchDeps, sends: Send[], results: ItemResult[]): Promise<void> {
  const rememberSeconds = deps.idempotencyTtlSeconds;
  // The claimed key's id and time; the input is not copied for them.
  const messages = sends.map(({ item, claimed }) => messageOf(item.input, claimed));
  let outcomes: BatchOutcome[];
  try {
    outcomes = await sendBatch(
      deps.redis,
      sends.map(({ item, claimed }, i) => ({
        message: messages[i],
        userIds: 'userIds' in item.input.recipients ? item.input.recipients.userIds : [],
        category: 'category' in item.input.recipients ? item.input.recipients.category : undefined,
        repeatable: claimed && { rememberSeconds },
        record: item.input.record,
        reportOffline: item.input.webPush !== undefined && deps.webPush !== undefined,
      })),
      { cap: deps.inboxCap, inboxTtlSeconds: deps.inboxTtlSeconds, categoryLogCap: deps.categoryLogCap },
    );
  } catch (err) {
    outcomes = sends.map(() => ({ counts: noDeliveries(), error: err }));
  }
  // Counted for the whole batch, once per series (a labelled inc hashes its labels: five a message).
  const sum = { inboxDropped: 0, usersReplaced: 0, logDropped: 0, categoryReplaced: 0, toUsers: 0, toCategory: 0 };
  sends.forEach(({ index }, i) => {
    const { error, counts, appended } = outcomes[i];
    sum.inboxDropped += counts.dropped;
    sum.usersReplaced += counts.replaced;
    if (error !== undefined) {
      results[index] = errorResult(deps, error);
      return;
    }
    if (appended) {
      sum.logDropped += appended.dropped;
      sum.categoryReplaced += appended.replaced;
      sum.toCategory++;
    } else sum.toUsers++;
    results[index] = { id: messages[i].id };
  });
  const { metrics } = deps;
  metrics.inboxDropped.inc(sum.inboxDropped);
  metrics.replaced.inc({ target: 'users' }, sum.usersReplaced);
  metrics.categoryLogDropped.inc(sum.logDropped);
  metrics.replaced.inc({ target: 'category' }, sum.categoryReplaced);
  if (sum.toUsers > 0) metrics.accepted.inc({ target: 'users' }, sum.toUsers);
  if (sum.toCategory > 0) metrics.accepted.inc({ target: 'category' }, sum.toCategory);
  if (deps.events) await deps.events.append(await batchEvents(deps, sends, messages, outcomes));
  await Promise.all(sends.map(({ item }, i) => (outcomes[i].error === undefined ? queueWebPush(deps, messages[i], item.input, outcomes[i].counts, outcomes[i].appended) : undefined)));
  await Promise.all(
    sends.map(async ({ index, item, claimed }) => {
      const answer = results[index];
      if (!claimed || !item.idempotency || !('id' in answer)) return;
      try {
        await recordAnswer({ redis: deps.redis, producer: deps.producer, key: item.idempotency.key }, answer);
      } catch (err) {
        // As for a single send: a repeat takes the key over after the lease, with the same id.
        results[index] = errorResult(deps, err);
      }
    }),
  );
}

/** The `sent` (and `dropped`) events of the items sent; a category's members read once per batch. */
async function batchEvents(deps: BatchDeps, sends: Send[], messages: ReturnType<typeof messageOf>[], outcomes: BatchOutcome[]): Promise<OutboxEvent[]> {
  const members = new Map<string, Promise<number>>();
  for (const { item } of sends) {
    const { recipients } = item.input;
    if ('category' in recipients && !members.has(recipients.category)) {
      members.set(recipients.category, deps.redis.scard(keys.categoryMembers(recipients.category)).catch(() => 0));
    }
  }
  const events: OutboxEvent[] = [];
  for (let i = 0; i < sends.length; i++) {
    const { error, counts, appended } = outcomes[i];
    if (error !== undefined) continue;
    const { recipients } = sends[i].item.input;
    const count = 'category' in recipients ? await (members.get(recipients.category) ?? 0) : recipients.userIds.length;
    const replaced = counts.replaced + (appended?.replaced ?? 0);
    for (const event of sentEvents(factsOf(messages[i], sends[i].item.input), { recipients: count, replaced, dropped: counts.droppedIds })) events.push(event);
  }
  return events;
}

/** Send the batch's items (see the header); one result per item, in order. */
export async function sendMessages(deps: BatchDeps, items: (BatchItem | HeraldError)[]): Promise<ItemResult[]> {
  const results: ItemResult[] = new Array<ItemResult>(items.length);
  const { sends, aliases } = await claimKeys(deps, items, results);
  await sendItems(deps, sends, results);
  for (const [index, first] of aliases) {
    if ('id' in results[first]) deps.metrics.replayed.inc();
    results[index] = results[first];
  }
  return results;
}
