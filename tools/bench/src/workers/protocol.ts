/**
 * The one protocol between the bench and its worker processes (rig.ts `forkWorker`): requests
 * `{ id, body }` over IPC, answered in arrival order. A worker whose parent goes away exits, so a
 * bench that dies leaves no load behind. Imported by the workers: Node's own modules only.
 */
type Envelope = { id: number; body: unknown };
export type Answer = { id: number; ok: true; body: unknown } | { id: number; ok: false; error: string };

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

/**
 * An open-loop run: sends issued, confirmed (Herald: delivered; baseline: published; Pub/Sub:
 * accepted) and failed; when the first was due (epoch ms); the worst delay of a send behind its time.
 */
export interface OpenLoopReply {
  sent: number;
  done: number;
  failed: number;
  firstError: string | null;
  startedAtMs: number;
  maxLagMs: number;
  /**
   * api-producer only: how long ingest took to answer, from each message's scheduled send to its
   * 2xx (50th and 99th percentiles, ms; a batch's items from their own times). Beside the delivery
   * latency it says where a queue is: before ingest's answer (the producer's connections, ingest)
   * or after it (Redis, the gateway, the clients).
   */
  answerP50Ms?: number;
  answerP99Ms?: number;
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
