/**
 * Redis connections, one per role (commands, subscriber, queue), single node or Cluster from the
 * same config. Herald's Lua scripts are defined on every connection made here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis, { Cluster, Pipeline, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '@herald/config';
import type { Logger } from '@herald/logger';

/**
 * commands: auto-pipelined, the default; subscriber: pub/sub only; queue: BullMQ's (retries
 * forever); log: latency-critical writes sent at once, not queued behind an auto-pipeline.
 */
export type RedisRole = 'commands' | 'subscriber' | 'queue' | 'log';

/**
 * The scripts in ./scripts, named `<name>-<numKeys>.lua` (`-n`: any number of keys, given first by
 * the caller); each file's header says what it does.
 */
const SCRIPT_FILES = [
  'store-message-2',
  'update-message-2',
  'recall-message-2',
  'remove-entry-1',
  'deliver-4',
  'send-chunk-n',
  'schedule-message-1',
  'fire-scheduled-1',
  'unschedule-message-1',
  'remove-ids-1',
  'remove-acked-n',
  'replace-categories-5',
  'settle-categories-3',
  'snapshot-3',
  'publish-category-5',
  'advance-positions-n',
  'claim-idempotency-1',
  'complete-idempotency-1',
  'ack-spill-2',
  'claim-wal-1',
  'release-wal-1',
  'beat-wal-1',
  'stale-wals-1',
  'spill-exposures-2',
  'beat-presence-1',
  'live-gateways-1',
  'add-webhook-3',
  'delete-webhook-4',
  'webhook-failure-1',
  'dead-letter-webhook-2',
  'save-push-subscription-1',
] as const;

/** `deliver`'s reply: [ids dropped by the cap, or -1 when skipped; ids replaced; gateways the note reached; the dropped ids…]. */
export type DeliverReply = [number, number, number, ...string[]];

export interface HeraldScripts {
  /** 1 when stored, 0 when the record says recalled. */
  storeMessage(body: string, record: string, encoded: string, ttlMs: number, ...recordFields: string[]): Promise<number>;
  updateMessage(body: string, record: string, encoded: string, ttlMs: number | '', expiresAt: number, updatedAt: number): Promise<[string, number]>;
  recallMessage(body: string, record: string, now: number): Promise<[string, string, string]>;
  removeEntry(log: string, messageId: string): Promise<number>;
  /** 'created', or the state of the record already there. */
  scheduleMessage(record: string, lifetimeMs: number, ...recordFields: string[]): Promise<string>;
  /** ['sending', createdAt] to send now; [state] or ['missing'] to do nothing. */
  fireScheduled(record: string): Promise<[string, string?]>;
  /** 1 when the record was still `scheduled` and is deleted. */
  unscheduleMessage(record: string): Promise<number>;
  /** [ids dropped by the cap, or -1 when skipped; ids replaced; gateways the note reached; the dropped ids…]. */
  deliver(
    inbox: string,
    channel: string,
    idempotentDeliveries: string,
    replaceKeys: string,
    id: string,
    cap: number,
    note: string,
    unique: '0' | '1',
    inboxTtlSeconds: number,
    rememberSeconds: number,
    replaceKey: string,
  ): Promise<DeliverReply>;
  removeIds(inbox: string, ...ids: string[]): Promise<number>;
  replaceCategories(
    userCats: string,
    index: string,
    sync: string,
    channel: string,
    positions: string,
    note: string,
    leaseMs: number,
    token: string,
    ...categories: string[]
  ): Promise<[number, string[], string[]]>;
  settleCategories(
    userCats: string,
    index: string,
    sync: string,
    token: string,
    version: number,
    leaseMs: number,
  ): Promise<['done'] | ['again', number, string[], string[]]>;
  snapshot(userCats: string, inbox: string, positions: string): Promise<[string[], string[], string[]]>;
  /** [entry id ('' when skipped), entries dropped, entries replaced]. */
  publishCategory(
    log: string,
    channel: string,
    idempotent: string,
    replaceKeys: string,
    trimmed: string,
    id: string,
    expiresAt: number,
    note: string,
    cap: number,
    lifetimeSeconds: number,
    unique: '0' | '1',
    rememberSeconds: number,
    replaceKey: string,
  ): Promise<[string, number, number]>;
  /** `numKeys` (2 per user), each user's positions and category set, then per user: n, then n (category, entry id) pairs. */
  advancePositions(numKeys: number, ...keysThenArgs: (string | number)[]): Promise<number>;
  claimIdempotency(
    record: string,
    id: string,
    fingerprint: string,
    now: number,
    leaseMs: number,
    ttlSeconds: number,
  ): Promise<string[]>;
  completeIdempotency(record: string, result: string): Promise<number>;
  /** `idsAndCounts`: entry id, events it holds, … */
  ackSpill(stream: string, counter: string, group: string, ...idsAndCounts: Array<string | number>): Promise<number>;
  claimWal(registry: string, walId: string, claimIdleMs: number): Promise<number>;
  releaseWal(registry: string, walId: string, stamp: number): Promise<number>;
  beatWal(registry: string, walId: string): Promise<number>;
  staleWals(registry: string, claimIdleMs: number, limit: number): Promise<string[]>;
  /** `entries`: events an entry holds, the entry, … */
  spillExposures(
    stream: string,
    counter: string,
    field: string,
    maxEvents: number,
    maxAgeMs: number,
    ...entries: Array<string | number | Buffer>
  ): Promise<[number, number, number]>;
  beatPresence(registry: string, instance: string, liveForMs: number, pruneAfterMs: number): Promise<number>;
  liveGateways(registry: string): Promise<string[]>;
  /** 1 when registered, 0 when the producer is at its bound. */
  addWebhook(ids: string, owner: string, endpoint: string, max: number, id: string, ...fields: string[]): Promise<number>;
  /** 1 when removed, 0 when the producer has no such endpoint. */
  deleteWebhook(ids: string, owner: string, endpoint: string, deadLetters: string, id: string): Promise<number>;
  webhookFailure(endpoint: string, at: number, reason: string): Promise<number>;
  deadLetterWebhook(endpoint: string, deadLetters: string, keep: number, entry: string, at: number, reason: string): Promise<number>;
  /** 1 saved (new or replaced), 0 refused: the user holds `max` others. */
  savePushSubscription(subscriptions: string, id: string, value: string, max: number): Promise<number>;
}

export type HeraldRedis = (Redis | Cluster) & HeraldScripts;

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * A script's text, with each `--@include <name>` line replaced by ./scripts/lib/<name>.lua: Redis
 * scripts cannot load each other, so the functions two scripts share live there, once.
 */
export function scriptText(file: (typeof SCRIPT_FILES)[number]): string {
  const text = readFileSync(join(__dirname, 'scripts', `${file}.lua`), 'utf8');
  return text.replace(/^--@include ([a-z-]+)$/gm, (_, lib: string) => readFileSync(join(__dirname, 'scripts', 'lib', `${lib}.lua`), 'utf8'));
}

/** A script file's method (`deliver-4` → `deliver`, 4 keys; `-n`: the caller passes the count). */
function scriptMethod(file: string): { name: string; numKeys: string } {
  const [, base, numKeys] = /^(.*)-(\d+|n)$/.exec(file) ?? [];
  return { name: camel(base), numKeys };
}

/**
 * Each script file must make its own method: two (`remove-ids-1` and `remove-ids-n`) would share
 * one, the second's definition replacing the first's on a connection but not on Pipeline's
 * prototype (defineScripts), so the same call would run one script or the other.
 */
export function checkScriptMethods(files: readonly string[] = SCRIPT_FILES): void {
  const seen = new Map<string, string>();
  for (const file of files) {
    const { name } = scriptMethod(file);
    const other = seen.get(name);
    if (other !== undefined) throw new Error(`the scripts ${other} and ${file} would both be the method ${name}: rename one`);
    seen.set(name, file);
  }
}
checkScriptMethods();

/** The methods ioredis gives a connection for each script: `name` and `nameBuffer`. */
type ScriptMethods = Record<string, unknown>;

/**
 * Defines the scripts on a connection. ioredis (5.9) would also copy every script defined on a
 * connection onto each new Pipeline, two properties per script, in the constructor: about 1 µs
 * per script per pipeline, and auto-pipelining makes one pipeline per event-loop turn and node
 * (with 24 scripts, 23 µs instead of 3; docs/BENCHMARKS.md). So the methods go once onto
 * Pipeline's prototype instead, and the connection's `scriptsSet` (read only by that copy) is
 * emptied. A script method is generic over its `this` (a connection or a pipeline) and its
 * Script sends EVAL on a socket's first use and EVALSHA after, whichever connection defined it:
 * scripts of the same name are the same text on every connection, so sharing them is exact.
 */
function defineScripts(client: Redis | Cluster): HeraldRedis {
  const pipelines = Pipeline.prototype as unknown as ScriptMethods;
  const methods = client as unknown as ScriptMethods;
  for (const file of SCRIPT_FILES) {
    const { name, numKeys } = scriptMethod(file);
    client.defineCommand(name, { numberOfKeys: numKeys === 'n' ? undefined : Number(numKeys), lua: scriptText(file) });
    if (!Object.prototype.hasOwnProperty.call(pipelines, name)) {
      pipelines[name] = methods[name];
      pipelines[`${name}Buffer`] = methods[`${name}Buffer`];
    }
    delete (client as unknown as { scriptsSet: Record<string, unknown> }).scriptsSet[name];
  }
  return client as HeraldRedis;
}

/**
 * Herald needs Redis 7 or later on every node: notifications use sharded pub/sub
 * (SPUBLISH/SSUBSCRIBE), on a single node as on a Cluster, so both run the same code.
 * On a Cluster, a subscriber keeps one connection per master (ioredis `shardedSubscribers`),
 * and commands are auto-pipelined per node.
 *
 * With a `logger`, the connection's `error` events go to a child logger (`module: 'redis'`, the
 * connection's name): without a listener ioredis prints every one as an unredacted "Unhandled
 * error event" line on stderr. The first error of an outage is a warning, the retries while it
 * lasts are debug lines, and the connection coming back is logged once.
 */
export function createRedis(config: RedisConfig, role: RedisRole, name = 'herald', logger?: Logger): HeraldRedis {
  const connectionName = `${name}:${role}`;
  const options: RedisOptions = {
    connectionName,
    // A queue connection must retry forever (BullMQ requirement); commands fail fast-ish.
    maxRetriesPerRequest: role === 'commands' || role === 'log' ? 3 : null,
    enableAutoPipelining: role === 'commands',
  };
  const client = config.REDIS_CLUSTER_NODES
    ? new Cluster(config.REDIS_CLUSTER_NODES, {
        redisOptions: options,
        enableAutoPipelining: role === 'commands',
        shardedSubscribers: role === 'subscriber',
      })
    : new Redis(config.REDIS_URL ?? 'redis://127.0.0.1:6379', options);
  if (logger) logErrors(client, logger.child({ module: 'redis', connection: connectionName }));
  return defineScripts(client);
}

/** One warning per outage, debug lines for the retries, an info line when the connection is back. */
function logErrors(client: Redis | Cluster, log: Logger): void {
  let failing = false;
  client.on('error', (err: Error) => {
    if (failing) return log.debug({ err }, 'redis connection error (still retrying)');
    failing = true;
    log.warn({ err }, 'redis connection error');
  });
  client.on('ready', () => {
    if (!failing) return;
    failing = false;
    log.info('redis connection ready again');
  });
}

/**
 * Calls `handler` each time a subscriber connection is back after a loss (not at the first
 * start): notifications published meanwhile were missed. One Redis node: a `ready` after the
 * first. A Cluster keeps one subscriber connection per shard: a shard's connection ended
 * (`-node`) and the group has subscribed again (`subscribersReady`).
 */
export function onSubscriberReconnect(sub: Redis | Cluster, handler: (why: string) => void): void {
  if (sub instanceof Cluster) {
    let shardLost = false;
    sub.on('-node', () => (shardLost = true));
    sub.on('subscribersReady', () => {
      if (!shardLost) return;
      shardLost = false;
      handler('a shard subscriber came back');
    });
    return;
  }
  // Already connected when this is attached (the caller awaited something first): the next
  // `ready` is a reconnect. Missed, the first reconnect went unhandled: no resync.
  let wasReady = sub.status === 'ready';
  sub.on('ready', () => {
    if (wasReady) handler('the subscriber came back');
    wasReady = true;
  });
}

/** Quit politely, disconnect if that fails; never throws. */
export async function closeRedis(client: Redis | Cluster): Promise<void> {
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}
