/**
 * Counting a stream's writes while some work runs, e.g. a Redis connection's socket
 * (`(redis as Redis).stream`): how many writes the commands of that work took. Counted where the
 * socket writes (`_write`, or `_writev` for what waited while it was corked or busy), not per
 * `write()` call: calls made while the socket is corked leave in one write.
 */
import type { Writable } from 'node:stream';

type Internals = Pick<Writable, '_write'> & { _writev?: Writable['_writev'] };

/** Writes the stream made to its destination while `work` runs. */
export async function writesDuring(stream: Writable, work: () => Promise<unknown>): Promise<number> {
  const own = stream as unknown as Internals;
  const { _write: write, _writev: writev } = own;
  const ownBefore = { write: Object.hasOwn(own, '_write'), writev: Object.hasOwn(own, '_writev') };
  let writes = 0;
  own._write = function (this: Writable, ...args: Parameters<Writable['_write']>) {
    writes++;
    return write.apply(this, args);
  };
  if (writev) {
    own._writev = function (this: Writable, ...args: Parameters<NonNullable<Writable['_writev']>>) {
      writes++;
      return writev.apply(this, args);
    };
  }
  try {
    await work();
  } finally {
    // Back to what answered before: the prototype's methods, or the stream's own.
    if (ownBefore.write) own._write = write;
    else delete (own as Partial<Internals>)._write;
    if (ownBefore.writev) own._writev = writev;
    else delete (own as Partial<Internals>)._writev;
  }
  return writes;
}
