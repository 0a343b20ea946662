/**
 * A command whose last argument is large (the exposure log's batch: up to tens of thousands of
 * events, megabytes), framed by Herald and handed to ioredis as it is: the caller writes the last
 * argument's bytes straight into the frame (prepareCommand), once, and keeps them (the gateway's
 * log batch, whose events are published from them).
 *
 * Given the batch as one joined string, ioredis would measure it, build the command around it (a
 * cons string), flatten that, and encode it to UTF-8 in fresh memory: three copies of megabytes a
 * batch (docs/BENCHMARKS.md). The frame may come from the caller (`alloc`: the gateway's log
 * reuses a settled batch's frame), who must not touch it until the command settles: ioredis may
 * write it again until then (a resend after a reconnect, a Cluster redirect).
 */
import { Command } from 'ioredis';
import type { HeraldRedis } from './client';

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

/** The RESP frame up to the last argument's bytes: `name args…`, and the length of the last one. */
function commandHead(name: string, args: readonly string[], dataBytes: number): string {
  let head = `*${args.length + 2}\r\n$${Buffer.byteLength(name)}\r\n${name}\r\n`;
  for (const arg of args) head += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
  return `${head}$${dataBytes}\r\n`;
}

/**
 * `name args… <data>`, framed before its last argument is written: the caller fills `data` in
 * (exactly its length), then sends it (sendPrepared). The frame is a new buffer, or the start of
 * `alloc(bytes)`'s; either way the caller may keep views of `data` for as long as it keeps the
 * frame: the exposure log's batch is written once, there, and its events are published from those
 * bytes (the gateway's exposure/wal-writer.ts, which reuses the frame once they all are).
 */
export interface PreparedCommand {
  readonly name: string;
  readonly args: string[];
  readonly data: Buffer;
  readonly frame: Buffer;
}

export function prepareCommand(
  name: string,
  args: readonly string[],
  dataBytes: number,
  alloc: (bytes: number) => Buffer = Buffer.allocUnsafe,
): PreparedCommand {
  const head = commandHead(name, args, dataBytes);
  const headBytes = Buffer.byteLength(head);
  const frame = alloc(headBytes + dataBytes + 2).subarray(0, headBytes + dataBytes + 2);
  frame.write(head, 0);
  frame[headBytes + dataBytes] = 13;
  frame[headBytes + dataBytes + 1] = 10;
  return { name, args: [...args], data: frame.subarray(headBytes, headBytes + dataBytes), frame };
}

/** Send a prepared command (its `data` written) and resolve with the reply. */
export function sendPrepared(redis: HeraldRedis, prepared: PreparedCommand): Promise<unknown> {
  const command = new EncodedCommand(prepared.name, prepared.args, prepared.frame);
  void redis.sendCommand(command);
  return command.promise;
}
