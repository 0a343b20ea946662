/**
 * The exposure spill: a Redis stream where a gateway parks exposure events (their JSON) while
 * Pub/Sub is slow or down, and from which any gateway replays them, oldest first, once Pub/Sub
 * takes events again. Replay goes through a consumer group: an entry read by a gateway that dies
 * before publishing it stays pending and is claimed by another after `claimIdleMs`.
 *
 * An entry holds one event, or several one per line (field `n`: how many): the gateway spills
 * exposures packed as its write-ahead log packed them, so a broadcast's overflow costs Redis a
 * few hundred entries, not one per delivery (docs/BENCHMARKS.md, "Exposures spilled packed").
 *
 * The stream is bounded (spill-exposures script) by events, counted beside it, so that an outage
 * of Pub/Sub cannot fill Redis and stop deliveries with it, and by age. What the bounds refuse or
 * trim is counted by the caller.
 */
import { Cluster, type Redis } from 'ioredis';
import { keys } from './keys';
import { scriptText, type HeraldRedis } from './client';
import { EncodedScript } from './encoded-script';
import { RespWriter, sparesOfOneSite } from './resp-writer';

/**
 * A bounded stream of events read through a consumer group. The exposure spill is one; ingest's
 * event outbox (the message lifecycle and `dropped` events it publishes) is another: the same
 * append within bounds, the same read that takes over a dead reader's entries, the same ack.
 */
export interface EventStream {
  key: string;
  /**
   * The key counting the events the stream's entries hold (the same Cluster slot as `key`), or
   * `key` itself for a stream whose entries hold one event each (its length is its count).
   */
  events: string;
  group: string;
}

/** The gateways' exposure spill. */
export const EXPOSURE_SPILL: EventStream = { key: keys.exposureSpill, events: keys.exposureSpillEvents, group: keys.spillGroup };
/** Ingest's event outbox, relayed to Pub/Sub by any ingest process (an event an entry: no counter). */
export const EVENT_OUTBOX: EventStream = { key: keys.eventOutbox, events: keys.eventOutbox, group: keys.outboxGroup };

/** An entry of the stream as read. */
export interface SpilledEvent {
  /** Stream entry id. */
  id: string;
  /** The event, or `count` events one per line. */
  data: string;
  count: number;
}

/** Events to append as one entry: `count` of them one per line in `data` (UTF-8 bytes, or text). */
export interface SpillEntry {
  data: string | Buffer;
  count: number;
}

/** An entry to acknowledge: its id and how many events it holds. */
export type SpillAck = Pick<SpilledEvent, 'id' | 'count'>;

/** The stream field that holds an event (the write-ahead log's rescue writes it too). */
export const SPILL_FIELD = 'e';
/** The stream field that says how many events an entry holds, when more than one. */
const COUNT_FIELD = 'n';

/** Most events (or ids) sent in one script call (a call's arguments are never unbounded). */
export const SPILL_CHUNK = 1000;

export interface SpillBounds {
  /** Most events the stream holds; events past it are refused. */
  maxEvents: number;
  /** Entries older than this (ms) are trimmed before appending; 0: no age bound. */
  maxAgeMs: number;
}

export interface SpillResult {
  /** Events appended. */
  spilled: number;
  /** Events refused: the stream held `maxEvents`. */
  refused: number;
  /** Events trimmed because they were older than `maxAgeMs` (never published). */
  expired: number;
}

const countOf = (entry: string | SpillEntry) => (typeof entry === 'string' ? 1 : entry.count);
const dataOf = (entry: string | SpillEntry) => (typeof entry === 'string' ? entry : entry.data);

/** The entries' chunks: SPILL_CHUNK events at most each (an entry is never split), as [from, to). */
function chunks(entries: ReadonlyArray<string | SpillEntry>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let from = 0;
  let events = 0;
  for (let i = 0; i < entries.length; i++) {
    const n = countOf(entries[i]);
    if (i > from && events + n > SPILL_CHUNK) {
      out.push([from, i]);
      from = i;
      events = 0;
    }
    events += n;
  }
  if (from < entries.length) out.push([from, entries.length]);
  return out;
}

/**
 * Append entries (an event's JSON, or events packed one per line with their count) to the spill,
 * in order, within its bounds; one script call per SPILL_CHUNK events.
 */
export async function spillExposures(
  redis: HeraldRedis,
  entries: ReadonlyArray<string | SpillEntry>,
  bounds: SpillBounds,
  stream: EventStream = EXPOSURE_SPILL,
): Promise<SpillResult> {
  const total: SpillResult = { spilled: 0, refused: 0, expired: 0 };
  if (redis instanceof Cluster) {
    for (const [from, to] of chunks(entries)) {
      const args: Array<string | number | Buffer> = [];
      for (let i = from; i < to; i++) args.push(countOf(entries[i]), dataOf(entries[i]));
      addResult(total, await redis.spillExposures(stream.key, stream.events, SPILL_FIELD, bounds.maxEvents, bounds.maxAgeMs, ...args));
    }
    return total;
  }
  // One redis-server: each call written straight into RESP (encoded-script.ts), not built by
  // ioredis argument by argument (ingest appends every request's events, a batch's by hundreds).
  spillScript ??= new EncodedScript(scriptText('spill-exposures-2'));
  const script = spillScript;
  const w = new RespWriter(spillSpares);
  const sent: Promise<unknown>[] = [];
  try {
    for (const [from, to] of chunks(entries)) {
      const call = script.begin(w, 2);
      w.string(stream.key);
      w.string(stream.events);
      w.string(SPILL_FIELD);
      w.string(String(bounds.maxEvents));
      w.string(String(bounds.maxAgeMs));
      for (let i = from; i < to; i++) {
        const entry = entries[i];
        w.string(String(countOf(entry)));
        const data = dataOf(entry);
        if (typeof data === 'string') w.string(data);
        else w.bytes(data);
      }
      script.end(w, call);
      const reply = script.send(redis as Redis, w, call);
      sent.push(reply);
      addResult(total, (await reply) as [number, number, number]);
    }
  } finally {
    void Promise.allSettled(sent).then(() => w.release());
  }
  return total;
}

let spillScript: EncodedScript | undefined;
/** The buffer of the last append, for the next one. */
const spillSpares = sparesOfOneSite();

function addResult(total: SpillResult, [spilled, refused, expired]: [number, number, number]): void {
  total.spilled += spilled;
  total.refused += refused;
  total.expired += expired;
}

/** Create the replay group (from the start of the stream) unless it exists. */
export async function ensureSpillGroup(redis: HeraldRedis, stream: EventStream = EXPOSURE_SPILL): Promise<void> {
  try {
    await redis.xgroup('CREATE', stream.key, stream.group, '0', 'MKSTREAM');
  } catch (err) {
    if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
  }
}

/** Whether an error says the replay group (or its stream) is gone: ensureSpillGroup() again. */
export function isNoGroupError(err: unknown): boolean {
  return String((err as Error | undefined)?.message ?? err).includes('NOGROUP');
}

type StreamEntries = Array<[string, string[] | null]>;

/** The events among `entries`; entries deleted meanwhile (trimmed by age) go to `gone`. */
function toEvents(entries: StreamEntries | null | undefined, gone: SpillAck[]): SpilledEvent[] {
  const out: SpilledEvent[] = [];
  for (const [id, fields] of entries ?? []) {
    const at = fields ? fields.indexOf(SPILL_FIELD) : -1;
    if (fields && at >= 0 && at + 1 < fields.length) out.push({ id, data: fields[at + 1], count: countField(fields) });
    else gone.push({ id, count: 0 });
  }
  return out;
}

/** How many events an entry's fields say it holds (1 without the field). */
function countField(fields: string[]): number {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === COUNT_FIELD) {
      const n = Number(fields[i + 1]);
      return Number.isInteger(n) && n > 0 ? n : 1;
    }
  }
  return 1;
}

/**
 * Up to `count` spilled events for `consumer` to publish, oldest first: its own unacknowledged
 * ones (a replay that failed), then ones another gateway left unacknowledged for `claimIdleMs`,
 * then new ones. Pending entries that were deleted meanwhile are acknowledged and skipped.
 */
export async function readSpill(
  redis: HeraldRedis,
  consumer: string,
  count: number,
  claimIdleMs: number,
  from: EventStream = EXPOSURE_SPILL,
): Promise<SpilledEvent[]> {
  const stream = from.key;
  const group = from.group;
  const gone: SpillAck[] = [];
  try {
    const own = (await redis.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'STREAMS', stream, '0')) as
      | Array<[string, StreamEntries]>
      | null;
    const mine = toEvents(own?.[0]?.[1], gone);
    if (mine.length > 0) return mine;
    const claimed = (await redis.xautoclaim(stream, group, consumer, claimIdleMs, '0', 'COUNT', count)) as [string, StreamEntries, string[]?];
    const taken = toEvents(claimed?.[1], gone);
    // Redis 7 lists the claimed entries that no longer exist separately (and drops them itself).
    if (taken.length > 0) return taken;
    const fresh = (await redis.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'STREAMS', stream, '>')) as
      | Array<[string, StreamEntries]>
      | null;
    return toEvents(fresh?.[0]?.[1], gone);
  } finally {
    if (gone.length > 0) await ackSpill(redis, gone, from);
  }
}

/** Acknowledge and delete replayed entries, taking their events off the stream's count (SPILL_CHUNK entries per script call). */
export async function ackSpill(redis: HeraldRedis, entries: readonly SpillAck[], stream: EventStream = EXPOSURE_SPILL): Promise<number> {
  let deleted = 0;
  for (let at = 0; at < entries.length; at += SPILL_CHUNK) {
    const args: Array<string | number> = [];
    for (const { id, count } of entries.slice(at, at + SPILL_CHUNK)) args.push(id, count);
    deleted += await redis.ackSpill(stream.key, stream.events, stream.group, ...args);
  }
  return deleted;
}

/** Entries in the spill (published or not yet replayed). */
export function spillLength(redis: HeraldRedis, stream: EventStream = EXPOSURE_SPILL): Promise<number> {
  return redis.xlen(stream.key);
}

/** Events the spill's entries hold (its counter; the entries themselves when it has none yet). */
export async function spilledEvents(redis: Pick<HeraldRedis, 'get' | 'xlen'>, stream: EventStream = EXPOSURE_SPILL): Promise<number> {
  if (stream.events === stream.key) return redis.xlen(stream.key);
  const [held, entries] = await Promise.all([redis.get(stream.events), redis.xlen(stream.key)]);
  return entries === 0 ? 0 : held === null ? entries : Number(held);
}

/** How old the oldest entry of the spill is, ms by the Redis server's clock; 0 when it is empty. */
export async function spillOldestAgeMs(redis: HeraldRedis): Promise<number> {
  const [oldest, time] = await Promise.all([
    redis.xrange(keys.exposureSpill, '-', '+', 'COUNT', 1) as Promise<Array<[string, string[]]>>,
    redis.time(),
  ]);
  if (oldest.length === 0) return 0;
  const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
  return Math.max(0, now - Number(oldest[0][0].split('-')[0]));
}
