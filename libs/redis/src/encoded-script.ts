/**
 * A Herald script called with its keys and arguments written straight into RESP (resp-writer.ts),
 * for calls a gateway makes in bulk, many to one buffer (the category positions:
 * category-positions.ts). One redis-server only: on a Cluster ioredis must route each call by its
 * keys, so those calls go through ioredis' own script commands.
 *
 * As ioredis' script commands do: a connection's first call is an EVAL (which loads the script),
 * the next ones EVALSHA; a call that finds the script gone (NOSCRIPT: SCRIPT FLUSH, a server that
 * lost it) is sent once more, as an EVAL.
 */
import { createHash } from 'node:crypto';
import { Command, type Redis } from 'ioredis';
import type { RespWriter } from './resp-writer';

/** Room for the longest EVALSHA head: `*<argc>\r\n$7\r\nEVALSHA\r\n$40\r\n<sha>\r\n`. */
const HEAD_ROOM = 80;

/** One call's place in its writer's buffer. */
export interface ScriptCall {
  /** Where its EVALSHA frame starts (the head is written right before `body` by end()). */
  head: number;
  /** Where numkeys, the keys and the arguments start. */
  body: number;
  end: number;
  /** Bulk strings of the whole command (EVALSHA and the SHA included). */
  argc: number;
}

export class EncodedScript {
  readonly sha: string;
  /** `$4\r\nEVAL\r\n$<bytes>\r\n<script>\r\n`: an EVAL's head after its argument count. */
  private readonly evalHead: Buffer;
  /** Sockets on which the script has been sent once (as EVAL). */
  private readonly loaded = new WeakSet<object>();

  constructor(lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
    this.evalHead = Buffer.from(`$4\r\nEVAL\r\n$${Buffer.byteLength(lua)}\r\n${lua}\r\n`);
  }

  /** Start a call in `w`; then write its `numKeys` keys and its arguments, then end() it. */
  begin(w: RespWriter, numKeys: number): ScriptCall {
    const head = w.skip(HEAD_ROOM);
    const call = { head, body: w.at, end: 0, argc: -w.count };
    w.string(String(numKeys));
    return call;
  }

  /** The call's arguments are all written: its EVALSHA head goes right before them. */
  end(w: RespWriter, call: ScriptCall): void {
    call.end = w.at;
    call.argc += w.count + 2;
    const head = `*${call.argc}\r\n$7\r\nEVALSHA\r\n$40\r\n${this.sha}\r\n`;
    call.head = call.body - head.length;
    w.writeAt(head, call.head);
  }

  /**
   * Send an ended call; resolves with the script's reply. The call's bytes are taken as they are
   * now: later calls may still be written to `w` (a writer only appends, and a buffer it outgrows
   * stays with the calls that hold it). Release `w` only once every call sent from it has settled.
   */
  send(redis: Redis, w: RespWriter, call: ScriptCall, replies: ReplyEncoding = 'buffers'): Promise<unknown> {
    const evalsha = w.buffer.subarray(call.head, call.end);
    const body = w.buffer.subarray(call.body, call.end);
    const first = new ScriptCommand(this, evalsha, body, call.argc, replies);
    corkForTurn(redis);
    return (redis.sendCommand(first) as Promise<unknown>).catch((err: unknown) => {
      if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
      if (first.socket) this.loaded.delete(first.socket);
      return redis.sendCommand(new ScriptCommand(this, evalsha, body, call.argc, replies));
    });
  }

  /**
   * Send every call written to `w`, and give `w` back once all of them have settled (until then
   * ioredis may write one again); resolves with their replies, in order.
   */
  sendAll(redis: Redis, w: RespWriter, calls: readonly ScriptCall[]): Promise<unknown[]> {
    const sent = calls.map((call) => this.send(redis, w, call));
    void Promise.allSettled(sent).then(() => w.release());
    return Promise.all(sent);
  }

  /** The frame to write on `socket`: EVALSHA once the script went there, else EVAL. */
  frame(socket: object, command: ScriptCommand): Buffer {
    if (this.loaded.has(socket)) return command.evalsha;
    this.loaded.add(socket);
    return Buffer.concat([Buffer.from(`*${command.argc}\r\n`), this.evalHead, command.body]);
  }
}

/** A call's replies as ioredis gives them: Buffers for bulk strings (its default for a bare Command), or text. */
export type ReplyEncoding = 'buffers' | 'text';

/** Sockets corked until the end of this turn (corkForTurn). */
const corked = new WeakSet<object>();

/**
 * `sendCommand` writes a call to the socket at once, where ioredis' auto-pipelining gathers a
 * turn's commands into one write: so the socket is corked for the rest of the turn, and this
 * turn's calls (and the auto-pipelined commands, flushed from an immediate too when it was queued
 * first) leave in one write. Not while connecting: calls then wait in ioredis' offline queue.
 */
function corkForTurn(redis: Redis): void {
  const stream = redis.stream;
  if (redis.status !== 'ready' || !stream || corked.has(stream)) return;
  corked.add(stream);
  stream.cork();
  setImmediate(() => {
    corked.delete(stream);
    stream.uncork();
  });
}

/** A script call whose frame is already written: ioredis writes it as it is. */
class ScriptCommand extends Command {
  /** The socket it was last written to. */
  socket?: object;

  constructor(
    private readonly script: EncodedScript,
    readonly evalsha: Buffer,
    readonly body: Buffer,
    readonly argc: number,
    replies: ReplyEncoding,
  ) {
    super('evalsha', [script.sha], replies === 'text' ? { replyEncoding: 'utf8' } : {});
  }

  override toWritable(socket: object): Buffer {
    this.socket = socket;
    return this.script.frame(socket, this);
  }
}
