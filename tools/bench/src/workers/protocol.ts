/**
 * The one protocol between the bench and its worker processes (client sockets, the open-loop
 * senders, the baseline server): the bench forks a .ts file with an IPC channel (rig.ts
 * `forkWorker`) and sends it requests, each `{ id, body }`; the worker answers each one, in
 * arrival order, with `{ id, ok, body }` or `{ id, ok: false, error }`. A worker whose parent goes
 * away exits, so a bench that dies leaves no load behind. This file is imported by the workers:
 * it keeps to Node's own modules.
 */
type Envelope = { id: number; body: unknown };
export type Answer = { id: number; ok: true; body: unknown } | { id: number; ok: false; error: string };

/** In the worker: answer every request with `handle` (one at a time, in arrival order). */
export function serveRequests(handle: (body: never) => Promise<unknown>): void {
  let chain: Promise<void> = Promise.resolve();
  process.on('message', (envelope: Envelope) => {
    chain = chain.then(async () => {
      let answer: Answer;
      try {
        answer = { id: envelope.id, ok: true, body: await handle(envelope.body as never) };
      } catch (err) {
        answer = { id: envelope.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
      }
      process.send?.(answer);
    });
  });
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

/** Epoch milliseconds with a fraction, comparable across processes. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

/** When an open-loop run is done: what was issued, what Redis or Pub/Sub confirmed, how late the sender fell. */
export interface OpenLoopReply {
  /** Sends issued (messages written, events published). */
  sent: number;
  /** Sends confirmed (Herald: stored and delivered; baseline: published; Pub/Sub: accepted). */
  done: number;
  failed: number;
  firstError: string | null;
  /** When the first send was due, epoch ms. */
  startedAtMs: number;
  /** Worst delay between a send's scheduled time and its call (timer granularity, a busy CPU). */
  maxLagMs: number;
}

/**
 * Send i at its scheduled time start + i/rate, whatever happens downstream (no coordinated
 * omission); resolves once every send settled. `send(at, done)` gets the scheduled time.
 */
export function openLoop(rate: number, seconds: number, send: (at: number, done: (err?: unknown) => void) => void): Promise<OpenLoopReply> {
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const reply: OpenLoopReply = { sent: 0, done: 0, failed: 0, firstError: null, startedAtMs: nowMs(), maxLagMs: 0 };
  return new Promise((resolve) => {
    const finishIfDone = () => {
      if (reply.sent === total && reply.done + reply.failed === total) resolve(reply);
    };
    const done = (err?: unknown) => {
      if (err === undefined) reply.done++;
      else {
        reply.failed++;
        reply.firstError ??= err instanceof Error ? err.message : String(err);
      }
      finishIfDone();
    };
    const step = () => {
      const now = nowMs();
      const due = Math.min(total, Math.floor((now - reply.startedAtMs) / interval) + 1);
      if (reply.sent < due) reply.maxLagMs = Math.max(reply.maxLagMs, now - (reply.startedAtMs + reply.sent * interval));
      for (; reply.sent < due; reply.sent++) send(reply.startedAtMs + reply.sent * interval, done);
      if (reply.sent < total) setTimeout(step, 1);
      else finishIfDone();
    };
    step();
  });
}
