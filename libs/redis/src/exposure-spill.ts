/**
 * The exposure spill: a Redis stream where a gateway parks exposure events (their JSON) while
 * Pub/Sub is slow or down, and from which any gateway replays them, oldest first, once Pub/Sub
 * takes events again. Replay goes through a consumer group: an entry read by a gateway that dies
 * before publishing it stays pending and is claimed by another after `claimIdleMs`.
 */
import { keys } from './keys';
import type { HeraldRedis } from './client';

export interface SpilledEvent {
  /** Stream entry id. */
  id: string;
  data: string;
}

/** The stream field that holds an event (the write-ahead log's rescue writes it too). */
export const SPILL_FIELD = 'e';

/** Append events to the spill, in order, in one round trip. */
export async function spillExposures(redis: HeraldRedis, events: readonly string[]): Promise<void> {
  if (events.length === 0) return;
  const pipeline = redis.pipeline();
  for (const data of events) pipeline.xadd(keys.exposureSpill, '*', SPILL_FIELD, data);
  const results = (await pipeline.exec()) ?? [];
  for (const [err] of results) if (err) throw err;
}

/** Create the replay group (from the start of the stream) unless it exists. */
export async function ensureSpillGroup(redis: HeraldRedis): Promise<void> {
  try {
    await redis.xgroup('CREATE', keys.exposureSpill, keys.spillGroup, '0', 'MKSTREAM');
  } catch (err) {
    if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
  }
}

type StreamEntries = Array<[string, string[]]>;

function toEvents(entries: StreamEntries | null | undefined): SpilledEvent[] {
  const out: SpilledEvent[] = [];
  for (const [id, fields] of entries ?? []) {
    const at = fields.indexOf(SPILL_FIELD);
    if (at >= 0 && at + 1 < fields.length) out.push({ id, data: fields[at + 1] });
  }
  return out;
}

/**
 * Up to `count` spilled events for `consumer` to publish, oldest first: its own unacknowledged
 * ones (a replay that failed), then ones another gateway left unacknowledged for `claimIdleMs`,
 * then new ones.
 */
export async function readSpill(redis: HeraldRedis, consumer: string, count: number, claimIdleMs: number): Promise<SpilledEvent[]> {
  const stream = keys.exposureSpill;
  const group = keys.spillGroup;
  const own = (await redis.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'STREAMS', stream, '0')) as
    | Array<[string, StreamEntries]>
    | null;
  const mine = toEvents(own?.[0]?.[1]);
  if (mine.length > 0) return mine;
  const claimed = (await redis.xautoclaim(stream, group, consumer, claimIdleMs, '0', 'COUNT', count)) as [string, StreamEntries];
  const taken = toEvents(claimed?.[1]);
  if (taken.length > 0) return taken;
  const fresh = (await redis.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'STREAMS', stream, '>')) as
    | Array<[string, StreamEntries]>
    | null;
  return toEvents(fresh?.[0]?.[1]);
}

/** Acknowledge and delete replayed entries. */
export async function ackSpill(redis: HeraldRedis, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  return redis.ackSpill(keys.exposureSpill, keys.spillGroup, ...ids);
}

/** Entries in the spill (published or not yet replayed). */
export function spillLength(redis: HeraldRedis): Promise<number> {
  return redis.xlen(keys.exposureSpill);
}
