/**
 * A command whose last argument is many strings joined by one separator byte (the exposure log's
 * batch: up to tens of thousands of events, megabytes), encoded once, straight into one buffer
 * that holds the whole RESP frame, and handed to ioredis as it is.
 *
 * Given the joined string, ioredis measures it, builds the command around it (a cons string),
 * flattens that, and encodes it to UTF-8 in fresh memory: three copies of megabytes a batch, and
 * the page faults of the fresh memory (docs/BENCHMARKS.md). Here each part is encoded once, which
 * also flattens it in place for its later use (the event is published next).
 *
 * The buffer is reused for a later command only once the command that carried it has settled:
 * until then ioredis may write it again (a resend after a reconnect, a Cluster redirect;
 * resp-writer.ts).
 *
 * A prepared command (prepareCommand) is framed before its last argument is written: the caller
 * writes those bytes itself, and keeps them (the gateway's log batch, whose events are published
 * from them). Its frame is its own, never reused.
 */
import { Command } from 'ioredis';
import type { HeraldRedis } from './client';
import { SpareBuffer } from './resp-writer';

/** The buffer of the last batch, for the next one. */
const spares = new SpareBuffer();

/** The frame is already encoded: ioredis writes it as it is. */
class EncodedCommand extends Command {
  constructor(name: string, keysAndArgs: string[], private readonly frame: Buffer) {
    // Only the small arguments: ioredis reads the key from them (a Cluster's slot).
    super(name, keysAndArgs);
  }

  override toWritable(): Buffer {
    return this.frame;
  }
}

/**
 * Send `name args… parts.join(separator)` (separator: one ASCII character, which no part holds
 * unescaped) and resolve with the reply.
 */
export function sendJoined(
  redis: HeraldRedis,
  name: string,
  args: readonly string[],
  parts: readonly string[],
  separator: string,
): Promise<unknown> {
  const sep = separator.charCodeAt(0);
  let dataBytes = Math.max(parts.length - 1, 0);
  // Measuring a part flattens it once, in place; encoding it below reads the flat string.
  for (const part of parts) dataBytes += Buffer.byteLength(part);
  const head = commandHead(name, args, dataBytes);
  const headBytes = Buffer.byteLength(head);
  const buffer = spares.take(headBytes + dataBytes + 2);
  let at = buffer.write(head, 0);
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) buffer[at++] = sep;
    at += buffer.write(parts[i], at);
  }
  buffer[at++] = 13;
  buffer[at++] = 10;
  const command = new EncodedCommand(name, [...args], buffer.subarray(0, at));
  const settled = () => spares.giveBack(buffer);
  command.promise.then(settled, settled);
  void redis.sendCommand(command);
  return command.promise;
}

/** The RESP frame up to the last argument's bytes: `name args…`, and the length of the last one. */
function commandHead(name: string, args: readonly string[], dataBytes: number): string {
  let head = `*${args.length + 2}\r\n$${Buffer.byteLength(name)}\r\n${name}\r\n`;
  for (const arg of args) head += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
  return `${head}$${dataBytes}\r\n`;
}

/**
 * `name args… <data>`, framed before its last argument is written: the caller fills `data` in
 * (exactly its length), then sends it (sendPrepared). The frame is the command's own and is never
 * reused, so the caller may keep views of `data` for as long as it likes: the exposure log's
 * batch is written once, there, and its events are published from those bytes (the gateway's
 * exposure/wal-writer.ts).
 */
export interface PreparedCommand {
  readonly name: string;
  readonly args: readonly string[];
  readonly data: Buffer;
  readonly frame: Buffer;
}

export function prepareCommand(name: string, args: readonly string[], dataBytes: number): PreparedCommand {
  const head = commandHead(name, args, dataBytes);
  const headBytes = Buffer.byteLength(head);
  const frame = Buffer.allocUnsafe(headBytes + dataBytes + 2);
  frame.write(head, 0);
  frame[headBytes + dataBytes] = 13;
  frame[headBytes + dataBytes + 1] = 10;
  return { name, args: [...args], data: frame.subarray(headBytes, headBytes + dataBytes), frame };
}

/** Send a prepared command (its `data` written) and resolve with the reply. */
export function sendPrepared(redis: HeraldRedis, prepared: PreparedCommand): Promise<unknown> {
  const command = new EncodedCommand(prepared.name, [...prepared.args], prepared.frame);
  void redis.sendCommand(command);
  return command.promise;
}
