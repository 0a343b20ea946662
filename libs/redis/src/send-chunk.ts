/**
 * One chunk of the write protocol (send-batch.ts) on one redis-server, as one script call:
 * `send-chunk-n.lua` stores each message's body and record when the chunk carries them and makes
 * its deliveries, in order, each step in `pcall` (a step that fails costs only its own item, as a
 * call of its own did; a message whose record says recalled delivers nothing). One call instead
 * of one per body and one per user: ingest built, encoded, wrote and parsed each of those through
 * ioredis, ~27 KB of garbage per message of a batch (docs/BENCHMARKS.md).
 *
 * The call is written straight into RESP (encoded-script.ts), and the calls of one turn into one
 * buffer (a send window's single sends come a dozen a turn), given back once all of them have
 * settled. The socket is corked for the rest of the turn, so the calls leave in one write with the
 * turn's auto-pipelined commands.
 */
import { ReplyError, type Redis } from 'ioredis';
import { scriptText, type DeliverReply } from './client';
import { countDelivery, type DeliveryCounts } from './deliveries';
import { EncodedScript } from './encoded-script';
import { DELIVER_KEYS_AROUND, deliveryOf, type DeliverOptions } from './inbox';
import { keyAround, keys } from './keys';
import { MessageRecalledError, type BodyWrite } from './messages';
import { RespWriter, sparesOfOneSite } from './resp-writer';

/** A message of the chunk: what the call needs, and where its outcome goes. */
export interface ChunkItem {
  messageId: string;
  body: BodyWrite;
  note: string;
  deliver: DeliverOptions;
  counts: DeliveryCounts;
  /** Its body was not stored: the store's failure, or MessageRecalledError. */
  storeError?: unknown;
  /** Deliveries that failed, and the first failure. */
  failed: number;
  cause?: unknown;
}

/** One message's share of the chunk: its body (when `store`) and some of its users. */
export interface ChunkPart {
  item: ChunkItem;
  store: boolean;
  userIds: readonly string[];
}

/** send-chunk-n.lua's reply for one part: its store result (1, 0 recalled, 2 none, or an error's text), then one `deliver` reply (or error text) per user. */
type PartReply = [number | string, ...Array<DeliverReply | string>];

/** A failure as an Error (ioredis rejects with Errors; anything else is wrapped). */
export const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

let chunkScript: EncodedScript | undefined;
/** A body's keys around its message id (BodyWrite's `key` and `recordKey`), written with no string made. */
const BODY_KEY = keyAround(keys.message);
const RECORD_KEY = keyAround(keys.messageRecord);
/** The buffer of the last turn's calls, for the next turn's. */
const spares = sparesOfOneSite();
/** The writer of this turn's calls (writerOfThisTurn). */
let turnWriter: { w: RespWriter; sent: Promise<unknown>[] } | undefined;

/**
 * The calls issued in one turn are written one after another into one buffer, which goes back to
 * the spares once all of them have settled (a writer per call took a fresh 64 KB buffer for each
 * call but the first of a turn). Append-only: a call written earlier keeps its bytes (its command
 * holds them, in this buffer or the one it outgrew).
 */
function writerOfThisTurn(): { w: RespWriter; sent: Promise<unknown>[] } {
  if (turnWriter) return turnWriter;
  const turn = { w: new RespWriter(spares), sent: [] as Promise<unknown>[] };
  turnWriter = turn;
  setImmediate(() => {
    turnWriter = undefined;
    void Promise.allSettled(turn.sent).then(() => turn.w.release());
  });
  return turn;
}

/**
 * Issue the chunk's call now (its commands go before anything issued after this returns); the
 * promise records each item's outcome and never rejects: a call that fails whole (no connection,
 * Redis refused the script) fails all of its parts.
 */
export async function sendChunkCall(redis: Redis, parts: readonly ChunkPart[]): Promise<void> {
  chunkScript ??= new EncodedScript(scriptText('send-chunk-n'));
  const script = chunkScript;
  const turn = writerOfThisTurn();
  const { w } = turn;
  let numKeys = 0;
  for (const p of parts) numKeys += (p.store ? 2 : 0) + 4 * p.userIds.length;
  const call = script.begin(w, numKeys);
  for (const { item, store, userIds } of parts) {
    // The keys' text is written around the ids: a template string per key, then its flat copy for
    // the write, were six strings a message.
    if (store) {
      w.stringAround(BODY_KEY[0], item.messageId, BODY_KEY[1]);
      w.stringAround(RECORD_KEY[0], item.messageId, RECORD_KEY[1]);
    }
    for (const userId of userIds) for (const [before, after] of DELIVER_KEYS_AROUND) w.stringAround(before, userId, after);
  }
  for (const { item, store, userIds } of parts) {
    if (store) {
      w.string('1');
      w.string(item.body.encoded);
      w.string(String(item.body.ttlMs));
      w.string(String(item.body.record.length));
      for (const field of item.body.record) w.string(field);
    } else w.string('0');
    const d = item.deliver;
    w.string(item.messageId);
    w.string(item.note);
    w.string(String(d.cap));
    w.string(d.unique ? '1' : '0');
    w.string(String(d.inboxTtlSeconds));
    w.string(String(d.rememberSeconds ?? 0));
    w.string(d.replaceKey ?? '');
    w.string(String(userIds.length));
  }
  script.end(w, call);
  const sent = script.send(redis, w, call, 'text') as Promise<PartReply[]>;
  turn.sent.push(sent);
  try {
    const replies = await sent;
    parts.forEach((p, i) => applyReply(p, replies[i]));
  } catch (err) {
    for (const { item, store, userIds } of parts) {
      if (store) item.storeError = asError(err);
      else {
        item.failed += userIds.length;
        item.cause ??= asError(err);
      }
    }
  }
}

/** What send-chunk-n.lua did for one part: its store result, then one delivery (or error) per user. */
function applyReply({ item, userIds }: ChunkPart, [stored, ...deliveries]: PartReply): void {
  if (typeof stored === 'string') item.storeError = new ReplyError(stored) as Error;
  else if (stored === 0) item.storeError = new MessageRecalledError(item.messageId);
  deliveries.forEach((reply, u) => {
    if (typeof reply !== 'string') countDelivery(item.counts, deliveryOf(reply, item.deliver), userIds[u]);
    else {
      item.failed++;
      item.cause ??= new ReplyError(reply) as Error;
    }
  });
}
