/**
 * Counting a stream's writes while some work runs, e.g. a Redis connection's socket
 * (`(redis as Redis).stream`): how many writes the commands of that work took.
 */
import type { Writable } from 'node:stream';

/** Calls of `stream.write` while `work` runs. */
export async function writesDuring(stream: Writable, work: () => Promise<unknown>): Promise<number> {
  const write = stream.write;
  let writes = 0;
  stream.write = function (this: Writable, ...args: Parameters<typeof write>) {
    writes++;
    return write.apply(this, args);
  } as typeof write;
  try {
    await work();
  } finally {
    stream.write = write;
  }
  return writes;
}
