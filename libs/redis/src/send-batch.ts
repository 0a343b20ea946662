/**
 * The write protocol (send-to-users.ts) for one or many messages in one request: `sendToUsers` and
 * `publishToCategory` are this with one message, POST /v1/messages/batch with up to 500. Every
 * body stored before any note names it, then one atomic `deliver` per recipient (in chunks of at
 * most DELIVERY_BATCH deliveries), or for a category message one append to its category's log
 * (category-log.ts), each chunk in one round trip where Redis allows it:
 *
 * - One redis-server: a chunk is one script call (send-chunk.ts, send-chunk-n.lua) that stores its
 *   bodies and makes its deliveries in the messages' order, then its category messages' appends,
 *   issued in the same turn. Redis runs a connection's commands in the order sent, so every body
 *   is stored before a note names it (a category's append follows the chunk), and a user's
 *   messages reach the inbox in the batch's order. The turn's commands leave in one socket write.
 * - A Cluster: a body (`msg:{id}`) and its recipients' keys (`{u:…}`) live on other slots, often
 *   other nodes, and Redis orders only one connection's commands; so the bodies go first (one
 *   auto-pipelined round trip per node, in parallel), then the deliveries of the messages whose
 *   body was stored (the same), and the appends of the category messages whose body was stored.
 *   A user's keys are one slot, so the user's messages keep their order.
 *
 * The messages share one inline-note budget (`liveNotes`): the batch is one request. Every message
 * gets its own outcome: its counts, and its failure if it failed; one message's failure never
 * stops the others. On one redis-server a body SET can fail only when Redis refuses writes (out
 * of memory), which refuses that chunk's deliveries and appends as well, or when the message's
 * record says it was recalled (a retry under an Idempotency-Key after a recall): the chunk's
 * script then makes none of its deliveries.
 */
import { Cluster, type Redis } from 'ioredis';
import type { Message } from '@herald/types';
import type { HeraldRedis } from './client';
import { appendToCategory, type CategoryAppend, type CategoryAppendOptions } from './category-log';
import { deliverToUser } from './inbox';
import { bodyWrite, writeBody } from './messages';
import type { RecordInput } from './message-record';
import { liveNotes } from './notification';
import { countDelivery, DELIVERY_BATCH, DeliveryError, noDeliveries, type DeliveryCounts } from './deliveries';
import { asError, sendChunkCall, type ChunkItem } from './send-chunk';

export interface BatchMessage {
  /** With a `replaceKey`, it takes the place of the last message with that key (inbox.ts, category-log.ts). */
  message: Message;
  /** The users to deliver to; none for a category message. */
  userIds: readonly string[];
  /** A category message: appended to this category's log (see `categoryLogCap`). */
  category?: string;
  /**
   * Set when the message may have been sent before (an idempotency key): deliveries skip users
   * who already got the id and remember the delivery `rememberSeconds` (see DeliverOptions); a
   * category's log does not take the id twice in that time.
   */
  repeatable?: { rememberSeconds: number };
  /** Who sent it and how, for its record (message-record.ts); its `replaceKey` is the message's (`message.replaceKey`). */
  record?: RecordInput;
  /** Report the recipients with no live session (`counts.offlineUserIds`; DeliverOptions.reportOffline). */
  reportOffline?: boolean;
}

export interface BatchOptions {
  /** INBOX_CAP. */
  cap: number;
  /** An offline list's, or a category log's, lifetime after its last write (MESSAGE_MAX_TTL_SECONDS). */
  inboxTtlSeconds: number;
  /** Entries a category's log keeps (CATEGORY_LOG_CAP); required when an item has a `category`. */
  categoryLogCap?: number;
  /** Most deliveries per chunk (DELIVERY_BATCH). */
  chunkSize?: number;
  /**
   * Checked before each chunk: an aborted send rejects with the signal's reason between chunks
   * (what was sent stays).
   */
  signal?: AbortSignal;
}

/** What the batch did for one message. */
export interface BatchOutcome {
  counts: DeliveryCounts;
  /** A category message's append: its entry (null when the id was appended before) and the entries trimmed. */
  appended?: CategoryAppend;
  /** The failure: the body's SET error (nothing delivered after it), the append's, or a DeliveryError. */
  error?: unknown;
}

/** One message's share of a chunk: its body (in its first chunk only) and some of its users. */
interface Part {
  item: number;
  store: boolean;
  userIds: readonly string[];
}

interface ItemState extends ChunkItem {
  expiresAt: number;
  /** A category message: its category and how its log is kept. */
  category?: { name: string; log: CategoryAppendOptions };
  appended?: CategoryAppend;
}


/** Splits the messages' work into chunks of at most `size` deliveries, in the messages' order. */
function* chunks(items: readonly BatchMessage[], size: number): Generator<Part[]> {
  let chunk: Part[] = [];
  let room = size;
  for (const [item, { userIds }] of items.entries()) {
    let start = 0;
    do {
      if (room === 0) {
        yield chunk;
        chunk = [];
        room = size;
      }
      const part = userIds.slice(start, start + room);
      chunk.push({ item, store: start === 0, userIds: part });
      start += part.length;
      room -= part.length;
    } while (start < userIds.length);
  }
  if (chunk.length > 0) yield chunk;
}

/** Stopped: its body was not stored, or some of its deliveries failed (later ones are not tried). */
const stopped = (s: ItemState) => s.storeError !== undefined || s.failed > 0;


/** Issue a body's SET; the promise records its failure and never rejects. */
function storeBody(redis: HeraldRedis, s: ItemState): Promise<void> {
  return writeBody(redis, s.messageId, s.body).then(
    () => undefined,
    (err: unknown) => {
      s.storeError = asError(err);
    },
  );
}

/** Issue a category message's append; the promise records its outcome and never rejects. */
function append(redis: HeraldRedis, s: ItemState, category: NonNullable<ItemState['category']>): Promise<void> {
  const message = { id: s.messageId, expiresAt: s.expiresAt };
  return appendToCategory(redis, category.name, message, s.note, category.log).then(
    (appended) => void (s.appended = appended),
    (err: unknown) => {
      s.storeError = asError(err);
    },
  );
}

/** Issue one delivery; the promise counts its outcome and never rejects. */
function deliver(redis: HeraldRedis, s: ItemState, userId: string): Promise<void> {
  return deliverToUser(redis, userId, s.messageId, s.note, s.deliver).then(
    (delivery) => countDelivery(s.counts, delivery, userId),
    (err: unknown) => {
      s.failed++;
      s.cause ??= asError(err);
    },
  );
}

/**
 * One chunk on a Cluster (see the header): the SETs, then the appends and deliveries of the
 * messages whose body was stored, each call routed by ioredis to its node.
 */
async function sendChunkByCommands(redis: HeraldRedis, parts: Part[], state: ItemState[]): Promise<void> {
  const stores: Promise<void>[] = [];
  for (const p of parts) if (p.store) stores.push(storeBody(redis, state[p.item]));
  await Promise.all(stores);
  const calls: Promise<void>[] = [];
  for (const p of parts) {
    const s = state[p.item];
    if (p.store && s.category && !stopped(s)) calls.push(append(redis, s, s.category));
  }
  for (const p of parts) {
    const s = state[p.item];
    if (stopped(s)) continue;
    for (const userId of p.userIds) calls.push(deliver(redis, s, userId));
  }
  await Promise.all(calls);
}

/**
 * One chunk on one redis-server (see the header): its bodies and deliveries in one script call
 * (send-chunk.ts), then its category messages' appends, issued in the same turn, so Redis runs
 * them after it (each body is stored before its append) and all leave in one write.
 */
async function sendChunkOnServer(redis: Redis, parts: Part[], state: ItemState[]): Promise<void> {
  const call = sendChunkCall(
    redis,
    parts.map((p) => ({ item: state[p.item], store: p.store, userIds: p.userIds })),
  );
  const appends: Promise<void>[] = [];
  for (const p of parts) {
    const s = state[p.item];
    if (p.store && s.category) appends.push(append(redis as HeraldRedis, s, s.category));
  }
  await call;
  await Promise.all(appends);
}

/** One chunk (see the header). */
function sendChunk(redis: HeraldRedis, parts: Part[], state: ItemState[]): Promise<void> {
  return redis instanceof Cluster ? sendChunkByCommands(redis, parts, state) : sendChunkOnServer(redis as Redis, parts, state);
}

/**
 * Send messages (see the header); resolves with one outcome per message, in their order, and
 * never rejects for a message's failure (only when `signal` aborts).
 */
export async function sendBatch(redis: HeraldRedis, items: readonly BatchMessage[], opts: BatchOptions): Promise<BatchOutcome[]> {
  const pickNote = liveNotes();
  const state: ItemState[] = items.map(({ message: given, userIds, repeatable, category, record, reportOffline }) => {
    // The replace key is the message's; one given only for the record is the message's too.
    const message = !given.replaceKey && record?.replaceKey ? { ...given, replaceKey: record.replaceKey } : given;
    const body = bodyWrite(message, userIds, record);
    // A category's note goes once to each subscribed gateway: one copy.
    const copies = category === undefined ? userIds.length : 1;
    const { replaceKey } = message;
    return {
      messageId: message.id,
      expiresAt: message.expiresAt,
      body,
      note: copies > 0 ? pickNote(body.encoded, message.id, copies, replaceKey !== undefined) : '',
      category: category === undefined ? undefined : { name: category, log: logOptions(opts, repeatable, replaceKey) },
      deliver: {
        cap: opts.cap,
        inboxTtlSeconds: opts.inboxTtlSeconds,
        unique: repeatable !== undefined,
        rememberSeconds: repeatable?.rememberSeconds ?? 0,
        replaceKey,
        reportOffline,
      },
      counts: noDeliveries(),
      failed: 0,
    };
  });
  for (const chunk of chunks(items, opts.chunkSize ?? DELIVERY_BATCH)) {
    opts.signal?.throwIfAborted();
    const parts = chunk.filter((p) => !stopped(state[p.item]));
    if (parts.length > 0) await sendChunk(redis, parts, state);
  }
  return state.map((s) => {
    if (s.storeError !== undefined) return { counts: s.counts, error: s.storeError };
    if (s.failed > 0) return { counts: s.counts, error: new DeliveryError(s.counts, s.failed, s.cause) };
    return s.appended ? { counts: s.counts, appended: s.appended } : { counts: s.counts };
  });
}

/** How a category message of the batch is appended. */
function logOptions(opts: BatchOptions, repeatable: BatchMessage['repeatable'], replaceKey: string | undefined): CategoryAppendOptions {
  if (opts.categoryLogCap === undefined) throw new TypeError('sendBatch: a category message needs BatchOptions.categoryLogCap');
  return {
    cap: opts.categoryLogCap,
    lifetimeSeconds: opts.inboxTtlSeconds,
    unique: repeatable !== undefined,
    rememberSeconds: repeatable?.rememberSeconds ?? 0,
    replaceKey,
  };
}
