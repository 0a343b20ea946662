/**
 * A producer the way the Contract asks one to behave under faults: every message has its own
 * Idempotency-Key, and a send that fails (no answer, 408, 409, 5xx) is sent again with the same
 * key until ingest answers 202. It remembers what was accepted, per user, in ingest order, so a
 * test can count what was sent against what clients received.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { StackClient } from './stack-client';

/** Statuses a producer retries with the same key; anything else is a bug in the request. */
const RETRYABLE = (status: number) => status === 408 || status === 409 || status >= 500;
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 500;
/** A send that has not been accepted after this long fails the test (ingest did not recover). */
const GIVE_UP_MS = 60_000;

export class Producer {
  /** Message ids ingest accepted, per recipient, in ingest order. */
  readonly sent = new Map<string, string[]>();
  /** Sends that had to be repeated (same key) before ingest accepted them. */
  retries = 0;
  private seq = 0;

  constructor(
    private readonly c: StackClient,
    /** Keeps this producer's Idempotency-Keys apart from other tests'. */
    private readonly keyPrefix: string,
  ) {}

  /** Every id accepted for any of `userIds`, counted once per recipient. */
  total(userIds: readonly string[]): number {
    return userIds.reduce((n, u) => n + (this.sent.get(u)?.length ?? 0), 0);
  }

  /** POST one message to `userIds`, repeating it with the same Idempotency-Key until accepted. */
  send(userIds: string[], payload: unknown): Promise<string> {
    return this.post({ userIds, payload }, userIds);
  }

  /** POST one message to a category whose members are `members`, as `send` does. */
  sendToCategory(category: string, members: string[], payload: unknown): Promise<string> {
    return this.post({ category, payload }, members);
  }

  private async post(body: object, userIds: string[]): Promise<string> {
    const key = `${this.keyPrefix}-${this.seq++}`;
    const deadline = Date.now() + GIVE_UP_MS;
    for (let attempt = 0; ; attempt++) {
      let failure: string;
      try {
        const res = await this.c.post(body, { idempotencyKey: key });
        if (res.status === 202 && res.body.id) {
          for (const u of userIds) {
            let list = this.sent.get(u);
            if (!list) this.sent.set(u, (list = []));
            list.push(res.body.id);
          }
          return res.body.id;
        }
        if (!RETRYABLE(res.status)) throw new Error(`ingest refused ${key} for good: ${res.status} ${JSON.stringify(res.body)}`);
        failure = `answered ${res.status}`;
      } catch (err) {
        if ((err as Error).message.startsWith('ingest refused')) throw err;
        failure = (err as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`ingest did not accept ${key} within ${GIVE_UP_MS} ms (last: ${failure})`);
      this.retries++;
      await sleep(Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** attempt)); // a producer's retry backoff, not a condition
    }
  }

  /** Starts `run()` until `stop()`, which resolves with the number of messages sent (idempotent). */
  start(users: readonly string[], everyMs: number): { stop(): Promise<number> } {
    let end!: () => void;
    const ended = new Promise<void>((resolve) => (end = resolve));
    const running = this.run(users, everyMs, ended);
    running.catch(() => undefined); // rejections reach whoever awaits stop()
    return {
      stop: () => {
        end();
        return running;
      },
    };
  }

  /**
   * Live traffic: one message to one user in turn, one every `everyMs`, until `until` settles.
   * A send that is being retried holds the next ones back, so each user's order is ingest order.
   */
  async run(users: readonly string[], everyMs: number, until: Promise<unknown>): Promise<number> {
    let done = false;
    void until.then(
      () => (done = true),
      () => (done = true),
    );
    let n = 0;
    while (!done) {
      const started = Date.now();
      await this.send([users[n % users.length]], { live: n });
      n++;
      await sleep(Math.max(0, everyMs - (Date.now() - started))); // rate pacing, not a condition
    }
    return n;
  }
}
