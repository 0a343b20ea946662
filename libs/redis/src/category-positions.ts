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
 * (docs/BENCHMARKS.md). The moves come as the sessions keep them (PositionMove), not grouped by
 * user.
 */
import { Cluster, type Redis } from 'ioredis';
import { keyAround, keys } from './keys';
import { scriptText, type HeraldRedis } from './client';
import { EncodedScript, type ScriptCall } from './encoded-script';
import { RespWriter, sparesOfOneSite } from './resp-writer';

/** Users' moves one script call carries on one redis-server. */
export const POSITIONS_PER_CALL = 200;

/**
 * One user's positions to move: `category` to `entry`, then each pair of `more` (category,
 * entry, …). The gateway keeps one per session and hands its window's list over as it is: a user
 * may come more than once (two sessions), and the furthest entry wins, whatever the order (the
 * script never moves a position back).
 */
export interface PositionMove {
  readonly userId: string;
  readonly category: string;
  readonly entry: string;
  readonly more?: readonly string[] | null;
}

let script: EncodedScript | undefined;
/** The buffer of the last window's calls, for the next window. */
const spares = sparesOfOneSite();
/** The two keys a move names, written around its user's id. */
const POSITIONS_KEY = keyAround(keys.categoryPositions);
const CATEGORIES_KEY = keyAround(keys.userCategories);

/**
 * Move users' positions forward to the given entries (acknowledged category messages): never
 * back, and only in categories the user is still a member of. On one redis-server one script call
 * per POSITIONS_PER_CALL moves; on a Cluster, where each user's keys are on their own slot, one
 * per move (auto-pipelined per node). Resolves with how many positions moved.
 */
export function advancePositions(redis: HeraldRedis, moves: readonly PositionMove[]): Promise<number> {
  // Not an async function: its frame would hold `moves` until Redis answers; the calls are
  // encoded (or their arguments copied) before this returns, and the caller may reuse the moves.
  const moved = redis instanceof Cluster ? advanceOnCluster(redis, moves) : advanceOnServer(redis, moves);
  return moved.then((replies: unknown[]) => replies.reduce((a: number, b) => a + Number(b), 0));
}

/** Pairs a move carries. */
const pairsOf = (move: PositionMove) => 1 + (move.more ? move.more.length / 2 : 0);

/** The two keys of a position to move, written around the user's id. */
function writeKeys(w: RespWriter, userId: string): void {
  w.stringAround(POSITIONS_KEY[0], userId, POSITIONS_KEY[1]);
  w.stringAround(CATEGORIES_KEY[0], userId, CATEGORIES_KEY[1]);
}

/**
 * One call per POSITIONS_PER_CALL moves, every call of the window encoded into one buffer, the
 * keys written around the users' ids: a window of a broadcast's acks makes no map, list or key
 * string per user (docs/BENCHMARKS.md). The script takes groups of positions that move to the same
 * entry: each run of moves whose first pairs are the same category and entry is one group (a
 * broadcast's window is one run), each further pair a group of its own. Keys come in the groups'
 * order: the moves' first pairs, then their further pairs.
 */
function advanceOnServer(redis: Redis, moves: readonly PositionMove[]): Promise<unknown[]> {
  script ??= new EncodedScript(scriptText('advance-positions-n'));
  const encoded = script;
  const w = new RespWriter(spares);
  const calls: ScriptCall[] = [];
  for (let from = 0; from < moves.length; from += POSITIONS_PER_CALL) {
    const to = Math.min(from + POSITIONS_PER_CALL, moves.length);
    let pairs = 0;
    for (let i = from; i < to; i++) pairs += pairsOf(moves[i]);
    const call = encoded.begin(w, pairs * 2);
    for (let i = from; i < to; i++) writeKeys(w, moves[i].userId);
    for (let i = from; i < to; i++) {
      const { userId, more } = moves[i];
      if (more) for (let j = 0; j < more.length; j += 2) writeKeys(w, userId);
    }
    for (let i = from; i < to; ) {
      const { category, entry } = moves[i];
      let end = i + 1;
      while (end < to && moves[end].category === category && moves[end].entry === entry) end++;
      w.string(category);
      w.string(entry);
      w.string(String(end - i));
      i = end;
    }
    for (let i = from; i < to; i++) {
      const { more } = moves[i];
      if (!more) continue;
      for (let j = 0; j < more.length; j += 2) {
        w.string(more[j]);
        w.string(more[j + 1]);
        w.string('1');
      }
    }
    encoded.end(w, call);
    calls.push(call);
  }
  return encoded.sendAll(redis, w, calls);
}

/** One call per move (a user's keys share its slot), auto-pipelined per node by ioredis: a group of one per pair. */
function advanceOnCluster(redis: HeraldRedis, moves: readonly PositionMove[]): Promise<number[]> {
  const calls: Promise<number>[] = [];
  for (const move of moves) {
    const { userId, category, entry, more } = move;
    const [positions, categories] = [keys.categoryPositions(userId), keys.userCategories(userId)];
    const keyList = [positions, categories];
    const args = [category, entry, '1'];
    if (more) {
      for (let j = 0; j < more.length; j += 2) {
        keyList.push(positions, categories);
        args.push(more[j], more[j + 1], '1');
      }
    }
    calls.push(redis.advancePositions(keyList.length, ...keyList, ...args));
  }
  return Promise.all(calls);
}
