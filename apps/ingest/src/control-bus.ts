/**
 * Tells every gateway about a change to a message (an update or a recall) and waits until each
 * has applied it: the note goes on the control channel (SPUBLISH answers how many gateway
 * subscribers got it) and every gateway confirms on the done channel. A gateway that does not
 * confirm within `timeoutMs` (stuck, or dying) is reported, not waited for: the change is in
 * Redis already, and a gateway that lost its subscriber drops its cached bodies when it is back.
 *
 * The subscriber connection is made at the first change, not at start: most ingest requests
 * never need it.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '@herald/logger';
import { closeRedis, keys, parseControlDone, type HeraldRedis } from '@herald/redis';
import { withTimeout } from '@herald/http';

/** How many gateways got the note, and how many said they applied it. */
export interface Announced {
  notified: number;
  confirmed: number;
}

interface Waiting {
  need: number;
  got: Set<string>;
  done: () => void;
}

export class ControlBus {
  private sub?: HeraldRedis;
  private subscribed?: Promise<void>;
  private readonly waiting = new Map<string, Waiting>();
  private closed = false;

  constructor(
    private readonly redis: HeraldRedis,
    private readonly makeSubscriber: () => HeraldRedis,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {}

  /** Publish the note `note(token)` and wait for the gateways' confirmations (or the timeout). */
  async announce(note: (token: string) => string): Promise<Announced> {
    await this.subscribe();
    const token = randomUUID();
    let done!: () => void;
    const confirmed = new Promise<void>((resolve) => (done = resolve));
    const entry: Waiting = { need: Infinity, got: new Set(), done };
    this.waiting.set(token, entry);
    try {
      entry.need = Number(await this.redis.spublish(keys.controlChannel, note(token)));
      if (entry.got.size >= entry.need) done();
      await withTimeout(confirmed, this.timeoutMs, 'the gateways\' confirmations').catch(() => {
        this.logger.warn({ notified: entry.need, confirmed: entry.got.size }, 'not every gateway confirmed a message change in time');
      });
      return { notified: entry.need, confirmed: Math.min(entry.got.size, entry.need) };
    } finally {
      this.waiting.delete(token);
    }
  }

  private subscribe(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the control bus is closed'));
    this.subscribed ??= this.connect().catch((err: unknown) => {
      this.subscribed = undefined;
      throw err;
    });
    return this.subscribed;
  }

  private async connect(): Promise<void> {
    const sub = (this.sub ??= this.makeSubscriber());
    sub.on('smessage', (_channel: string, raw: string) => this.confirm(raw));
    // SSUBSCRIBE only once ready (see the gateway's live router: a subscribe while connecting fails its ready check).
    if (sub.status !== 'ready') {
      await withTimeout(new Promise<void>((resolve) => sub.once('ready', () => resolve())), this.timeoutMs * 5, 'the control subscriber');
    }
    await sub.ssubscribe(keys.controlDoneChannel);
  }

  private confirm(raw: string): void {
    const done = parseControlDone(raw);
    const entry = done && this.waiting.get(done.token);
    if (!entry) return;
    entry.got.add(done.gatewayId);
    if (entry.got.size >= entry.need) entry.done();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const entry of this.waiting.values()) entry.done();
    if (this.sub) await closeRedis(this.sub);
  }
}
