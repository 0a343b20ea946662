/**
 * Every Redis key and channel name Herald uses, built here and nowhere else.
 *
 * A user's keys share the hash tag `{u:<id>}` so that one script touches one Redis Cluster slot.
 * A message body is tagged by its own id, so bodies spread evenly over the cluster.
 * Ids and names reaching this module were validated by `@herald/types` (closed charset, bounded).
 */
export const keys = {
  /** List of message ids the user has not acknowledged, oldest first. */
  inbox: (userId: string) => `{u:${userId}}:inbox`,
  /** Set of the user's categories. */
  userCategories: (userId: string) => `{u:${userId}}:cats`,
  /**
   * Set of categories whose member sets may still hold the user beyond `userCategories`: written
   * by a categories change, deleted once the member sets agree (see categories.ts). Exists only
   * while a change is under way, or after a process died during one, until the user's next change.
   */
  categoryIndex: (userId: string) => `{u:${userId}}:catidx`,
  /** Hash of the user's category changes under way: `v` (version) and each repair's lease. */
  categorySync: (userId: string) => `{u:${userId}}:catsync`,
  /**
   * Sorted set of message ids delivered to the user under an Idempotency-Key (id -> expiry, epoch
   * ms), so that a retry skips the user even after the id was acknowledged. Expires with the keys.
   */
  idempotentDeliveries: (userId: string) => `{u:${userId}}:idem`,
  /**
   * Hash of the user's replace keys: replaceKey -> the id of the last message delivered with it
   * (deliver-4.lua removes that id from the inbox when the next one comes). Lives as long as the
   * inbox after its last replace; at most INBOX_CAP keys.
   */
  userReplaceKeys: (userId: string) => `{u:${userId}}:rk`,
  /**
   * Sharded pub/sub channel that tells gateways about the user's new messages and category
   * changes. Same hash tag as the user's keys: one slot, so one script can write and notify.
   */
  userChannel: (userId: string) => `{u:${userId}}:notify`,
  /** The user id of a `userChannel`, or null for any other name. */
  userOfChannel: (channel: string): string | null =>
    channel.startsWith('{u:') && channel.endsWith('}:notify') ? channel.slice(3, -8) : null,
  /** A message body (see message-codec), with the message's TTL. */
  message: (messageId: string) => `msg:{${messageId}}`,
  /**
   * Hash of what Herald knows about a message besides its body (message-record.ts): its state
   * (scheduled, sent, recalled), its producer, its target, its version. Same hash tag as the body,
   * so one script writes both; lives as long as the message.
   */
  messageRecord: (messageId: string) => `msg:{${messageId}}:rec`,
  /** Set of a category's members. */
  categoryMembers: (category: string) => `cat:{${category}}:members`,
  /**
   * Stream of the category's messages (category-log.ts): one entry per message (`i` id, `e`
   * expiry, epoch ms), trimmed to CATEGORY_LOG_CAP entries and to the longest message TTL. Its
   * entry ids (`<ms>-<seq>`, Redis's clock) are the positions members read from.
   */
  categoryLog: (category: string) => `cat:{${category}}:log`,
  /** Sharded pub/sub channel of a category's new messages: one note per message for every gateway. */
  /**
   * Sorted set of a category's entries the log's cap or lifetime trimmed, `<entry>|<message id>|<d|e>`
   * by the entry's ms (publish-category-5.lua): a member's drain reports the ones it lost unread.
   */
  categoryTrimmed: (category: string) => `cat:{${category}}:trimmed`,
  categoryChannel: (category: string) => `cat:{${category}}:notify`,
  /** The category of a `categoryChannel`, or null for any other name. */
  categoryOfChannel: (channel: string): string | null =>
    channel.startsWith('cat:{') && channel.endsWith('}:notify') ? channel.slice(5, -8) : null,
  /**
   * Hash of the category's replace keys: replaceKey -> `<entry id>|<message id>` of the last
   * message appended with it (publish-category-5.lua deletes that entry when the next one comes).
   * Lives as long as the log after its last replace; at most CATEGORY_LOG_CAP keys.
   */
  categoryReplaceKeys: (category: string) => `cat:{${category}}:rk`,
  /** Sorted set of message ids appended under an Idempotency-Key (id -> expiry, epoch ms): a retry appends nothing. */
  categoryIdempotent: (category: string) => `cat:{${category}}:idem`,
  /**
   * Hash of the user's read positions, category -> log entry id: the user has everything of the
   * category up to it (acknowledged, or sent before the user joined). Set at join, advanced by
   * acks, removed at leave.
   */
  categoryPositions: (userId: string) => `{u:${userId}}:catpos`,
  /**
   * Sharded pub/sub channel every gateway listens to: a message was updated or recalled
   * (message-changes.ts). One slot for all: changes are rare, and every gateway needs each one.
   */
  controlChannel: '{herald:control}:notify',
  /** Sharded channel (same slot) on which gateways confirm a change to the ingest that asked. */
  controlDoneChannel: '{herald:control}:done',
  /**
   * The record of one producer's Idempotency-Key (see idempotency.ts). The caller passes a digest
   * of producer and key, so any key a producer chooses makes a short, safe Redis key.
   */
  idempotency: (digest: string) => `idem:{${digest}}`,
  /**
   * Prefix of every BullMQ key. One hash tag, so that each BullMQ script, which touches many
   * keys of a queue, stays on one Redis Cluster slot.
   */
  queuePrefix: '{herald:q}',
  /**
   * Stream of exposure events that gateways could not publish while Pub/Sub was slow or down;
   * any gateway replays it (consumer group `spillGroup`).
   */
  exposureSpill: '{herald:exposures}:spill',
  /** How many events the spill's entries hold (an entry holds one, or several packed; exposure-spill.ts). */
  exposureSpillEvents: '{herald:exposures}:spill:events',
  spillGroup: 'replay',
  /**
   * Ingest's event outbox (stream, field `e`: an event's JSON): the message lifecycle events
   * (`sent`, `scheduled`, `updated`, `recalled`) and `dropped` events, appended once the step is in
   * Redis and published to Pub/Sub by any ingest's relay (consumer group `outboxGroup`).
   */
  eventOutbox: '{herald:events}:outbox',
  outboxGroup: 'relay',
  /**
   * One gateway process's exposure write-ahead log (hash: batch -> events); see exposure-wal.ts.
   * Tagged by the log's own id, not `{herald:exposures}`: on a Cluster each process's push path
   * writes to the master of its own slot, so the logs spread over the masters like users do.
   */
  exposureWal: (walId: string) => `{herald:wal:${walId}}`,
  /**
   * Registry of write-ahead logs: log id -> last heartbeat (epoch ms, Redis's clock). One key for
   * every gateway: it is written once per heartbeat period per process, not per push.
   */
  exposureWals: '{herald:exposures}:wals',
  /**
   * Hash of the user's sessions, session id -> `<connectedAtMs>|<gateway instance>` (presence.ts),
   * written by the gateways at open and close. Expires a few heartbeats after the last refresh, so
   * a dead gateway's sessions go on their own; readers trust a session only while its gateway
   * instance is live in `presenceGateways`.
   */
  presence: (userId: string) => `{u:${userId}}:presence`,
  /**
   * Sorted set of gateway instances (`<nonce>|<GATEWAY_ID>`) -> the time their presence stops
   * counting (epoch ms, Redis's clock), pushed forward by each instance's beat. One key for every
   * gateway: a few writes per heartbeat period per process, never per session.
   */
  presenceGateways: '{herald:presence}:gateways',
  /**
   * Webhook endpoints (webhooks.ts in this library; docs/WEBHOOKS.md). All on one slot
   * `{herald:webhooks}`: endpoints are few (WEBHOOK_MAX_PER_PRODUCER per producer, an operator's
   * scope), and one script then checks a producer's bound and writes an endpoint at once.
   * Set of every endpoint id, which the dispatchers read.
   */
  webhookIds: '{herald:webhooks}:ids',
  /** Hash of one endpoint: its definition (url, kinds, category, owner, secret, createdAt) and its status. */
  webhookEndpoint: (endpointId: string) => `{herald:webhooks}:ep:${endpointId}`,
  /** Set of one producer's endpoint ids; `ownerDigest` is a digest of the token `sub`, so any sub makes a short key. */
  webhookOwner: (ownerDigest: string) => `{herald:webhooks}:owner:${ownerDigest}`,
  /** List of an endpoint's dead-lettered batches (JSON, newest first), at most WEBHOOK_DEAD_LETTERS_KEPT. */
  webhookDeadLetters: (endpointId: string) => `{herald:webhooks}:dead:${endpointId}`,
  /**
   * Hash of the user's Web Push subscriptions (push-subscriptions.ts): subscription id (a digest
   * of its endpoint) -> JSON `{endpoint, keys, userAgent, createdAt}`; at most
   * WEBPUSH_MAX_SUBSCRIPTIONS fields. In the user's slot, next to the inbox it nudges about. No TTL:
   * a subscription lives until the user deletes it or its push service answers 404/410.
   */
  pushSubscriptions: (userId: string) => `{u:${userId}}:webpush`,
} as const;

/**
 * The text of a key around its one argument: `keyAround(keys.inbox)` is `['{u:', '}:inbox']`.
 * For keys written into a command in parts (resp-writer.ts `stringAround`), without the key's
 * string made for each user; the key's layout stays here.
 */
export function keyAround(key: (arg: string) => string): readonly [before: string, after: string] {
  const marker = '\u0000';
  const [before, after, ...rest] = key(marker).split(marker);
  if (after === undefined || rest.length > 0) throw new Error('keyAround: the key must hold its argument exactly once');
  // Written a byte a character (RespWriter.stringAround).
  if (/[^\x20-\x7e]/.test(before + after)) throw new Error('keyAround: the text around the argument must be printable ASCII');
  return [before, after];
}

/** BullMQ queue names. */
export const queues = {
  /** Messages with a `sendAt`: one delayed job each, its id the message id (scheduler.ts in ingest). */
  scheduled: 'herald-scheduled',
  /** Webhook batches to post: one job per (endpoint, batch), its id the batch's `webhook-id` (ingest webhooks/). */
  webhooks: 'herald-webhooks',
  /** Web Push to users offline when a message reached them: one job per (message, user) (ingest webpush/). */
  webpush: 'herald-webpush',
} as const;
