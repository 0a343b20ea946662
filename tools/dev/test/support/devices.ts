/**
 * Client devices for fault tests: each one holds a WebSocket to a gateway, acknowledges what it
 * receives (in batches, as an SDK would), and when its connection ends for any reason reconnects,
 * after a random jitter, to one of the gateways a load balancer would offer now. Every session is
 * logged (gateway, session id, ids in arrival order, close code and time), so a test can count
 * what was received against what was sent, and find each (message, session) pair in the
 * exposure store.
 *
 * The duplicate oracle: just before each reconnect the device reads its user's offline list from
 * Redis. An id that a new session delivers again must be in that list, i.e. not acknowledged
 * (Contract: unacknowledged messages are sent again on the next connection; acknowledged ones
 * never are). Reading after the old connection is gone makes the check exact: the list only loses
 * acknowledged ids and gains new ones from then on.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_ACK_IDS, type MessageFrame } from '@herald/types';
import { signToken, TestClient } from '@herald/testing';
import type { StackClient } from './stack-client';

export interface SessionLog {
  sessionId: string;
  /** Index of the gateway in `stack.gateways`. */
  gateway: number;
  /** Message ids in arrival order. */
  ids: string[];
  openedAt: number;
  /** The user's offline list just before this connection (absent for a device's first). */
  inboxBefore?: ReadonlySet<string>;
  closeCode?: number;
  closedAt?: number;
}

export interface DeviceOptions {
  /** Gateways (indices of `stack.gateways`) a reconnect may go to, as a load balancer offers them. */
  gateways: () => readonly number[];
  /** The user's offline list now (read from Redis); rejects while Redis is away. */
  inbox: (userId: string) => Promise<string[]>;
  /** A reconnect first waits a random 0..jitterMs (1012 means "reconnect with jitter"). */
  jitterMs?: number;
  /** Acks of this period go out as one frame (the gateway allows WS_MAX_FRAMES_PER_SECOND). */
  ackEveryMs?: number;
}

const WELCOME_TIMEOUT_MS = 15_000;
/** A device that cannot get a session for this long fails the test (the stack did not recover). */
const RECONNECT_GIVE_UP_MS = 60_000;

export class Device {
  readonly sessions: SessionLog[] = [];
  /** Connection attempts that got no session (refused, or closed before their welcome). */
  failedConnects = 0;
  /** Set when reconnecting failed for good. */
  error?: Error;
  private client?: TestClient;
  private current?: SessionLog;
  private stopped = false;
  private acks: string[] = [];
  private ackTimer?: NodeJS.Timeout;
  private reconnecting?: Promise<void>;

  constructor(
    private readonly c: StackClient,
    readonly userId: string,
    private readonly opts: DeviceOptions,
  ) {}

  /** The session open now, if any. */
  get session(): SessionLog | undefined {
    return this.current;
  }

  /** Every message id received, in any session. */
  received(): Set<string> {
    return new Set(this.sessions.flatMap((s) => s.ids));
  }

  /** The first connection, to `gateway`; rejects unless it is welcomed. */
  async connect(gateway: number): Promise<SessionLog> {
    const session = await this.open(gateway);
    if (!session) throw new Error(`${this.userId}: the first connection to gateway ${gateway} got no session`);
    return session;
  }

  /** Stop reconnecting and close the connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.ackTimer);
    await this.reconnecting;
    await this.client?.close();
  }

  /** Opens a session on `gateway`; undefined when refused or closed before its welcome. */
  private async open(gateway: number, inboxBefore?: ReadonlySet<string>): Promise<SessionLog | undefined> {
    let client: TestClient;
    try {
      client = await TestClient.connect(this.c.wsUrl(gateway), await signToken(this.userId));
    } catch {
      this.failedConnects++;
      return undefined;
    }
    const welcome = await welcomeOf(client);
    if (!welcome || this.stopped) {
      if (!welcome) this.failedConnects++;
      client.ws.terminate();
      return undefined;
    }
    const log: SessionLog = { sessionId: welcome, gateway, ids: [], openedAt: Date.now(), inboxBefore };
    this.sessions.push(log);
    this.client = client;
    this.current = log;
    // Frames are collected by TestClient from the start; read them from a cursor, so none that
    // arrived before these listeners is missed.
    let cursor = 1;
    const take = () => {
      for (; cursor < client.frames.length; cursor++) {
        const frame = client.frames[cursor];
        if (frame.type === 'message') this.receive(log, frame);
      }
    };
    const onClose = (code: number) => {
      take();
      log.closeCode = code;
      log.closedAt = Date.now();
      this.client = undefined;
      this.current = undefined;
      // Acks not sent yet are lost with the connection: those ids stay in the offline list.
      this.acks = [];
      if (!this.stopped) this.reconnect(gateway);
    };
    client.ws.on('message', take);
    take();
    if (client.closeCode !== undefined) onClose(client.closeCode);
    else client.ws.once('close', onClose);
    return log;
  }

  private receive(log: SessionLog, frame: MessageFrame): void {
    log.ids.push(frame.id);
    this.acks.push(frame.id);
    this.ackTimer ??= setTimeout(() => this.flushAcks(), this.opts.ackEveryMs ?? 50);
  }

  private flushAcks(): void {
    this.ackTimer = undefined;
    const ids = this.acks.splice(0);
    if (!this.client || this.client.ws.readyState !== this.client.ws.OPEN) return;
    for (let i = 0; i < ids.length; i += MAX_ACK_IDS) this.client.ack(ids.slice(i, i + MAX_ACK_IDS));
  }

  private reconnect(previous: number): void {
    this.reconnecting = (async () => {
      const deadline = Date.now() + RECONNECT_GIVE_UP_MS;
      const jitterMs = this.opts.jitterMs ?? 200;
      for (let attempt = 0; !this.stopped; attempt++) {
        if (Date.now() > deadline) {
          this.error = new Error(`${this.userId}: no session within ${RECONNECT_GIVE_UP_MS} ms (${this.failedConnects} failed connects)`);
          return;
        }
        // The reconnect jitter a real SDK uses (1012 asks for it), not a condition.
        await sleep(Math.random() * jitterMs * Math.min(attempt + 1, 5));
        let inbox: Set<string>;
        try {
          inbox = new Set(await this.opts.inbox(this.userId));
        } catch {
          continue; // Redis is away: the gateways cannot serve a session either
        }
        if (this.stopped) return;
        if (await this.open(this.pick(previous), inbox)) return;
      }
    })();
  }

  /** Another gateway than the one that closed us, when there is one. */
  private pick(previous: number): number {
    const offered = this.opts.gateways();
    const others = offered.filter((g) => g !== previous);
    const from = others.length > 0 ? others : offered;
    return from[Math.floor(Math.random() * from.length)];
  }
}

/** Resolves with the session id of the welcome frame, or undefined if the socket closes first. */
function welcomeOf(client: TestClient): Promise<string | undefined> {
  return new Promise((resolve) => {
    const done = (sessionId: string | undefined) => {
      clearTimeout(timer);
      client.ws.off('message', check);
      client.ws.off('close', check);
      resolve(sessionId);
    };
    const check = () => {
      const first = client.frames[0];
      if (first?.type === 'welcome') done(first.sessionId);
      else if (client.closeCode !== undefined || client.ws.readyState >= client.ws.CLOSING) done(undefined);
    };
    const timer = setTimeout(() => done(undefined), WELCOME_TIMEOUT_MS);
    client.ws.on('message', check);
    client.ws.on('close', check);
    check();
  });
}
