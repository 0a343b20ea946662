/**
 * Acknowledged ids removed from many users' inboxes at once: the gateway's ack batcher sends a
 * write window's acks together. On one redis-server they are calls of `remove-acked-n.lua` of at
 * most REMOVE_CHUNK ids each, written straight into one buffer (encoded-script.ts), where one
 * ioredis call per user built a command, its argument arrays and its promises for each user
 * acknowledging in the window; on a Cluster, where each user's inbox is on its own slot, one
 * `removeFromInbox` per user (auto-pipelined per node).
 */
import { Cluster, type Redis } from 'ioredis';
import { keys } from './keys';
import { scriptText, type HeraldRedis } from './client';
import { EncodedScript, type ScriptCall } from './encoded-script';
import { REMOVE_CHUNK, removeFromInbox } from './inbox';
import { RespWriter, sparesOfOneSite } from './resp-writer';

let script: EncodedScript | undefined;
/** The buffer of the last window's calls, for the next window. */
const spares = sparesOfOneSite();

/** Remove each user's acknowledged ids from the user's inbox; resolves with how many entries went. */
export async function removeAcked(redis: HeraldRedis, acked: ReadonlyMap<string, Iterable<string>>): Promise<number> {
  if (acked.size === 0) return 0;
  const removed = redis instanceof Cluster ? await removeOnCluster(redis, acked) : await removeOnServer(redis, acked);
  return removed.reduce((a: number, b) => a + Number(b), 0);
}

/** Calls of at most REMOVE_CHUNK ids (a user with more is split over calls), all in one buffer. */
function removeOnServer(redis: Redis, acked: ReadonlyMap<string, Iterable<string>>): Promise<unknown[]> {
  script ??= new EncodedScript(scriptText('remove-acked-n'));
  const open: OpenCall = { script, w: new RespWriter(spares), calls: [], inboxes: [], lists: [] };
  let ids = 0;
  for (const [userId, userIds] of acked) {
    const inbox = keys.inbox(userId);
    let list: string[] = [];
    for (const id of userIds) {
      if (list.length === 0) {
        open.inboxes.push(inbox);
        open.lists.push(list);
      }
      list.push(id);
      if (++ids >= REMOVE_CHUNK) {
        encodeCall(open);
        ids = 0;
        list = [];
      }
    }
  }
  if (open.inboxes.length > 0) encodeCall(open);
  return open.script.sendAll(redis, open.w, open.calls);
}

/** The calls being written, and the inboxes and id lists of the next one. */
interface OpenCall {
  script: EncodedScript;
  w: RespWriter;
  calls: ScriptCall[];
  inboxes: string[];
  lists: string[][];
}

/** Write the next call (its inboxes, then each inbox's count and ids) and start another. */
function encodeCall(open: OpenCall): void {
  const { w, inboxes, lists } = open;
  const call = open.script.begin(w, inboxes.length);
  for (const inbox of inboxes) w.string(inbox);
  for (const list of lists) {
    w.string(String(list.length));
    for (const id of list) w.string(id);
  }
  open.script.end(w, call);
  open.calls.push(call);
  inboxes.length = 0;
  lists.length = 0;
}

/** One removeFromInbox per user (a user's keys share its slot), auto-pipelined per node by ioredis. */
function removeOnCluster(redis: HeraldRedis, acked: ReadonlyMap<string, Iterable<string>>): Promise<number[]> {
  return Promise.all([...acked].map(([userId, ids]) => removeFromInbox(redis, userId, [...ids])));
}
