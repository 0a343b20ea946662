/**
 * Users' read positions in their categories' logs (`{u:<id>}:catpos`, category -> log entry id),
 * moved forward as their sessions acknowledge category messages (the gateway's ack batcher, once
 * per write window). A connecting session reads each category's log after its position
 * (category-log.ts).
 *
 * A broadcast to a category moves one position per member it reached, so on one redis-server the
 * calls of a window are written straight into one buffer (encoded-script.ts), not built by ioredis
 * per call: with tens of thousands of members a second, ioredis' command strings and argument
 * arrays were the largest part of what outlived the gateway's young generation
 * (docs/BENCHMARKS.md).
 */
import { Cluster, type Redis } from 'ioredis';
import { keys } from './keys';
import { scriptText, type HeraldRedis } from './client';
import { EncodedScript, type ScriptCall } from './encoded-script';
import { RespWriter, SpareBuffer } from './resp-writer';

/** Users whose positions one script call moves on one redis-server. */
export const POSITIONS_PER_CALL = 200;

/**
 * A user's positions to move: category, entry, category, entry, … A flat list rather than a map:
 * the gateway makes one per user acknowledging in each write window. A category may come more
 * than once (two sessions of the user): the furthest entry wins, whatever the order.
 */
export type UserPositions = readonly string[];

let script: EncodedScript | undefined;
/** The buffer of the last window's calls, for the next window. */
const spares = new SpareBuffer();

/**
 * Move users' positions forward to the given entries (user -> its UserPositions; acknowledged
 * category messages): never back, and only in categories the user is still a member of. On one
 * redis-server one script call per POSITIONS_PER_CALL users; on a Cluster, where each user's keys
 * are on their own slot, one per user (auto-pipelined per node). Resolves with how many moved.
 */
export function advancePositions(redis: HeraldRedis, positions: ReadonlyMap<string, UserPositions>): Promise<number> {
  // Not an async function: its frame would hold `positions` until Redis answers; the calls are
  // encoded (or their arguments copied) before this returns, and the map can go.
  const moved = redis instanceof Cluster ? advanceOnCluster(redis, positions) : advanceOnServer(redis, positions);
  return moved.then((replies: unknown[]) => replies.reduce((a: number, b) => a + Number(b), 0));
}

/** One call per POSITIONS_PER_CALL users, every call of the window encoded into one buffer. */
function advanceOnServer(redis: Redis, positions: ReadonlyMap<string, UserPositions>): Promise<unknown[]> {
  script ??= new EncodedScript(scriptText('advance-positions-n'));
  const encoded = script;
  const w = new RespWriter(spares);
  const calls: ScriptCall[] = [];
  const users: string[] = [];
  const lists: UserPositions[] = [];
  const encode = () => {
    const call = encoded.begin(w, users.length * 2);
    for (const userId of users) {
      w.string(keys.categoryPositions(userId));
      w.string(keys.userCategories(userId));
    }
    for (const list of lists) {
      w.string(String(list.length / 2));
      for (const item of list) w.string(item);
    }
    encoded.end(w, call);
    calls.push(call);
    users.length = 0;
    lists.length = 0;
  };
  for (const [userId, list] of positions) {
    users.push(userId);
    lists.push(list);
    if (users.length >= POSITIONS_PER_CALL) encode();
  }
  if (users.length > 0) encode();
  return encoded.sendAll(redis, w, calls);
}

/** One call per user (a user's keys share its slot), auto-pipelined per node by ioredis. */
function advanceOnCluster(redis: HeraldRedis, positions: ReadonlyMap<string, UserPositions>): Promise<number[]> {
  const calls: Promise<number>[] = [];
  for (const [userId, list] of positions) {
    calls.push(redis.advancePositions(2, keys.categoryPositions(userId), keys.userCategories(userId), list.length / 2, ...list));
  }
  return Promise.all(calls);
}
