/**
 * Poll until a phase is done, saying how far it got every couple of seconds, and stop when it no
 * longer moves: a bounded wait that tells where it stuck instead of a plain timeout.
 */
import { setTimeout as delay } from 'node:timers/promises';

/** `progress`: anything that grows while the phase moves; `line`: where it is. */
export type Poll = { done: boolean; progress: number; line: string };

/** Poll until done, or until `progress` has not moved for `stallMs`; `report` gets a line every 2 s. */
export async function watch(
  poll: () => Promise<Poll>,
  opts: { intervalMs: number; stallMs: number; signal: AbortSignal; report?(line: string): void },
): Promise<{ last: Poll; stalled: boolean; at: number }> {
  let moved = { progress: -1, at: Date.now() };
  let reported = Date.now();
  for (;;) {
    opts.signal.throwIfAborted();
    const last = await poll();
    const at = Date.now();
    if (last.done) return { last, stalled: false, at };
    if (last.progress !== moved.progress) moved = { progress: last.progress, at };
    else if (at - moved.at > opts.stallMs) {
      opts.report?.(`no progress for ${opts.stallMs} ms, giving up: ${last.line}`);
      return { last, stalled: true, at };
    }
    if (at - reported >= 2000) {
      opts.report?.(last.line);
      reported = at;
    }
    await sleep(opts.intervalMs, opts.signal);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  return delay(ms, undefined, { signal });
}
