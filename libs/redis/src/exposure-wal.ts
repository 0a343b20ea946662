/**
 * The exposure write-ahead log: before a gateway writes a frame to a socket, the exposure event
 * of that push is in Redis, so a gateway killed outright (SIGKILL, OOM, node lost) loses none.
 *
 * Each gateway process has its own log (a hash: batch number -> the batch's events, one JSON per
 * line), registered with a heartbeat in a sorted set. A batch is deleted once Pub/Sub (or the
 * spill) has taken all its events. A log whose heartbeat is older than the claim time belongs to
 * a dead process: any gateway moves it into the spill (one script, so two rescuers cannot both
 * move it), and the spill's replay publishes it. Events published just before the crash are
 * published again then; the consumer stores each event id once.
 *
 * Heartbeats and the staleness cutoff are both taken from the Redis server's clock (`TIME` inside
 * the scripts): gateways whose clocks disagree must not take each other for dead.
 */
import { keys } from './keys';
import type { HeraldRedis } from './client';
import { SPILL_FIELD } from './exposure-spill';

const EVENT_SEPARATOR = '\n';
/** Batch numbers per HDEL, and stale logs looked at per sweep. */
const CHUNK = 1000;

/** Write one batch of events (serialized JSON, which never holds a raw newline). */
export async function writeWalBatch(redis: HeraldRedis, walId: string, batch: number, events: readonly string[]): Promise<void> {
  await redis.hset(keys.exposureWal(walId), String(batch), events.join(EVENT_SEPARATOR));
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
 * Move the logs of processes silent for `claimIdleMs` by the Redis server's clock (other than
 * `ownId`) into the spill. Returns how many events were moved.
 */
export async function rescueStaleWals(redis: HeraldRedis, ownId: string, claimIdleMs: number): Promise<number> {
  const stale = await redis.staleWals(keys.exposureWals, claimIdleMs, CHUNK);
  let moved = 0;
  for (const walId of stale) {
    if (walId === ownId) continue;
    const n = await redis.rescueWal(keys.exposureWals, keys.exposureWal(walId), keys.exposureSpill, walId, claimIdleMs, SPILL_FIELD);
    if (n > 0) moved += n;
  }
  return moved;
}
