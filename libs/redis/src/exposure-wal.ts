/**
 * The exposure write-ahead log: before a gateway writes a frame to a socket, the exposure event
 * of that push is in Redis, so a gateway killed outright (SIGKILL, OOM, node lost) loses none.
 *
 * Each gateway process has its own log (a hash: batch number -> the batch's events, one JSON per
 * line) on its own Cluster slot (`keys.exposureWal`), registered with a heartbeat in one sorted
 * set. A batch is deleted once Pub/Sub (or the spill) has taken all its events. A log whose
 * heartbeat is older than the claim time belongs to a dead process: any gateway rescues it into
 * the spill, and the spill's replay publishes it. The log and the spill are on different slots, so
 * the rescue takes two steps (rescueWal): a claim in the registry that keeps other rescuers away
 * for a claim period, then a copy that deletes each batch only once the spill holds it. Events
 * published just before the crash, or copied twice by a rescuer that died mid-way, are published
 * again; the consumer stores each event id once.
 *
 * Heartbeats, claims and the staleness cutoff are all taken from the Redis server's clock (`TIME`
 * inside the scripts): gateways whose clocks disagree must not take each other for dead.
 */
import { keys } from './keys';
import type { HeraldRedis } from './client';
import { SPILL_CHUNK, spillExposures, type SpillBounds } from './exposure-spill';
import { prepareCommand, sendPrepared, type PreparedCommand } from './joined-command';

/**
 * What separates a log batch's events: one per line (JSON never holds a raw line break). The
 * gateway's packed exposures are views of a batch's bytes, so they share it (stage.ts, push-lines.ts).
 */
export const EVENT_SEPARATOR = '\n';
const LINE_BREAK = EVENT_SEPARATOR.charCodeAt(0);
/** Batch numbers per HDEL, and stale logs looked at per sweep. */
const CHUNK = 1000;
/**
 * A rescued log is spilled whatever the spill's bounds (as the one-script rescue did): its pushes
 * happened, and its size is bounded by the dead process's own memory bound.
 */
const RESCUE_BOUNDS: SpillBounds = { maxEvents: Number.MAX_SAFE_INTEGER, maxAgeMs: 0 };

/**
 * Write one batch of events (serialized JSON, which never holds a raw newline), one per line,
 * encoded once, straight into the command's frame (prepareWalBatch).
 */
export async function writeWalBatch(redis: HeraldRedis, walId: string, batch: number, events: readonly string[]): Promise<void> {
  let bytes = Math.max(events.length - 1, 0);
  for (const event of events) bytes += Buffer.byteLength(event);
  const prepared = prepareWalBatch(walId, batch, bytes);
  const { data } = prepared;
  let at = 0;
  for (let i = 0; i < events.length; i++) {
    if (i > 0) data[at++] = LINE_BREAK;
    at += data.write(events[i], at);
  }
  await sendWalBatch(redis, prepared);
}

/**
 * A batch of `bytes` bytes, to be written by the caller into `data` (its events one per line, as
 * writeWalBatch joins them) and then sent with sendWalBatch. The frame is new, or the start of
 * `alloc(size)`'s (at least `size` bytes; the caller's to reuse once the command has settled): the
 * caller may publish its events from views of it.
 */
export function prepareWalBatch(walId: string, batch: number, bytes: number, alloc?: (bytes: number) => Buffer): PreparedCommand {
  return prepareCommand('hset', [keys.exposureWal(walId), String(batch)], bytes, alloc);
}

/** Write a batch prepared by prepareWalBatch (its data filled in). */
export async function sendWalBatch(redis: HeraldRedis, prepared: PreparedCommand): Promise<void> {
  await sendPrepared(redis, prepared);
}

/** Forget batches whose every event Pub/Sub or the spill has taken. */
export async function dropWalBatches(redis: HeraldRedis, walId: string, batches: readonly number[]): Promise<void> {
  for (let at = 0; at < batches.length; at += CHUNK) {
    await redis.hdel(keys.exposureWal(walId), ...batches.slice(at, at + CHUNK).map(String));
  }
}

/** Say this process's log is alive (and register it), by the Redis server's clock. */
export async function beatWal(redis: HeraldRedis, walId: string): Promise<void> {
  await redis.beatWal(keys.exposureWals, walId);
}

/** Remove this process's log: everything in it was published or spilled. */
export async function retireWal(redis: HeraldRedis, walId: string): Promise<void> {
  await Promise.all([redis.del(keys.exposureWal(walId)), redis.zrem(keys.exposureWals, walId)]);
}

/**
 * Rescue the logs of processes silent for `claimIdleMs` by the Redis server's clock (other than
 * `ownId`) into the spill. Returns how many events were moved.
 */
export async function rescueStaleWals(redis: HeraldRedis, ownId: string, claimIdleMs: number): Promise<number> {
  const stale = await redis.staleWals(keys.exposureWals, claimIdleMs, CHUNK);
  let moved = 0;
  for (const walId of stale) {
    if (walId !== ownId) moved += await rescueWal(redis, walId, claimIdleMs);
  }
  return moved;
}

/**
 * Move a dead process's log into the spill, oldest batch first: claim it (claim-wal: 0 and
 * nothing done when it is alive or another rescuer holds it), append its batches to the spill a
 * chunk at a time, deleting each chunk's batches only once the spill holds them, then unregister
 * it (release-wal: unless its process beat meanwhile). A crash at any point leaves every event
 * either in the log, to be claimed again after `claimIdleMs`, or in the spill.
 */
export async function rescueWal(redis: HeraldRedis, walId: string, claimIdleMs: number): Promise<number> {
  const stamp = await redis.claimWal(keys.exposureWals, walId, claimIdleMs);
  if (stamp < 0) return 0;
  const log = keys.exposureWal(walId);
  const batches = Object.entries(await redis.hgetall(log))
    .map(([batch, events]) => ({ batch, events: events.split(EVENT_SEPARATOR).filter((e) => e.length > 0) }))
    .sort((a, b) => Number(a.batch) - Number(b.batch));
  let moved = 0;
  while (batches.length > 0) {
    const chunk = [batches.shift()!];
    let size = chunk[0].events.length;
    while (batches.length > 0 && size + batches[0].events.length <= SPILL_CHUNK) {
      size += batches[0].events.length;
      chunk.push(batches.shift()!);
    }
    await spillExposures(redis, chunk.flatMap((b) => b.events), RESCUE_BOUNDS);
    await redis.hdel(log, ...chunk.map((b) => b.batch));
    moved += size;
  }
  await redis.releaseWal(keys.exposureWals, walId, stamp);
  return moved;
}
