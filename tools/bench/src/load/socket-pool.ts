/**
 * The sockets of one load-client process: opens them (a bounded number of handshakes at once,
 * each bound to its source address), counts what they receive and, when asked, acks every
 * message id. Built to keep the client's CPU low next to the gateway it measures: a frame is
 * recognised by its first bytes, only a message's id is cut out (no JSON.parse), and the ids of
 * one event-loop turn go back in one ack frame per connection.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import type { EpochMs, LoadStats, OpenRequest } from './protocol';

/** `{"type":"message","id":"<id>",…`: ingest serializes the frame with these keys first. */
const MESSAGE_PREFIX = Buffer.from('{"type":"message","id":"');
const WELCOME_PREFIX = Buffer.from('{"type":"welcome"');
const QUOTE = 0x22;
/** The gateway takes at most this many ids per ack frame (MAX_ACK_IDS). */
const ACK_IDS_MAX = 1000;
const HANDSHAKE_TIMEOUT_MS = 30_000;
/** Failed attempts (other than a 503) a connection gets before it is given up. */
const ATTEMPTS_MAX = 5;
/** After a 503 without Retry-After, and after another failure: wait this long, plus jitter. */
const RETRY_BASE_MS = 1000;
const RETRY_JITTER_MS = 1000;
/** A 503 says "come back later": a connection retries it for this long before giving up. */
const REFUSED_RETRY_FOR_MS = 120_000;

const now = (): EpochMs => performance.timeOrigin + performance.now();

interface Connection {
  ws: WebSocket | null;
  welcomed: boolean;
  messages: number;
  /** Ids waiting for this turn's ack frame. */
  unacked: string[];
}

export class SocketPool {
  private readonly connections: Connection[] = [];
  private readonly toAck = new Set<Connection>();
  private ackScheduled = false;
  private closing = false;
  private readonly closedByCode: Record<string, number> = {};
  private readonly counts = {
    open: 0,
    welcomed: 0,
    messages: 0,
    ackedIds: 0,
    ackFrames: 0,
    refused: 0,
    retried: 0,
    failed: 0,
    unexpected: 0,
  };
  private readonly times: Pick<LoadStats, 'firstAttemptAt' | 'lastOpenAt' | 'lastWelcomeAt' | 'lastMessageAt'> = {
    firstAttemptAt: null,
    lastOpenAt: null,
    lastWelcomeAt: null,
    lastMessageAt: null,
  };
  private lastError: string | null = null;
  private ack = false;

  /** Open every connection of `request`; resolves when each is open or given up. */
  async open(request: OpenRequest): Promise<void> {
    this.ack = request.ack;
    const targets = request.connections.map(([url, address, token]) => ({
      url: request.urls[url],
      localAddress: request.addresses[address],
      token,
    }));
    let next = 0;
    const worker = async () => {
      while (next < targets.length && !this.closing) {
        const target = targets[next++];
        const connection: Connection = { ws: null, welcomed: false, messages: 0, unacked: [] };
        this.connections.push(connection);
        await this.connect(connection, target.url, target.localAddress, target.token);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, request.concurrency) }, worker));
  }

  stats(atLeast: number): LoadStats {
    const cpu = process.cpuUsage();
    let withAtLeast = 0;
    for (const c of this.connections) if (c.messages >= atLeast) withAtLeast++;
    return {
      assigned: this.connections.length,
      ...this.counts,
      withAtLeast,
      closedByCode: { ...this.closedByCode },
      ...this.times,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      rssBytes: process.memoryUsage.rss(),
      lastError: this.lastError,
    };
  }

  /** Cut every socket off (no close handshake: thousands of them, and the gateway is measured). */
  close(): void {
    this.closing = true;
    for (const c of this.connections) c.ws?.terminate();
  }

  /** One connection, retried after a 503 (the door) and, a few times, after other failures. */
  private async connect(connection: Connection, url: string, localAddress: string, token: string): Promise<void> {
    const refusedUntil = Date.now() + REFUSED_RETRY_FOR_MS;
    for (let attempt = 1; !this.closing; ) {
      this.times.firstAttemptAt ??= now();
      const outcome = await this.attempt(connection, url, localAddress, token);
      if (outcome.opened) return;
      if (outcome.status === 503 && Date.now() < refusedUntil) {
        this.counts.refused++;
        await sleep((outcome.retryAfterSeconds ?? RETRY_BASE_MS / 1000) * 1000 + Math.random() * RETRY_JITTER_MS);
        continue;
      }
      if (++attempt > ATTEMPTS_MAX || outcome.status !== undefined) {
        this.counts.failed++;
        return;
      }
      this.counts.retried++;
      await sleep(RETRY_BASE_MS + Math.random() * RETRY_JITTER_MS);
    }
  }

  /** Resolves once the socket is open, or with why not (the HTTP status when the gateway answered). */
  private attempt(
    connection: Connection,
    url: string,
    localAddress: string,
    token: string,
  ): Promise<{ opened: boolean; status?: number; retryAfterSeconds?: number }> {
    return new Promise((resolve) => {
      const ws = new WebSocket(url, {
        headers: { authorization: `Bearer ${token}` },
        perMessageDeflate: false,
        localAddress,
        handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      });
      let answered: { status: number; retryAfterSeconds?: number } | undefined;
      let opened = false;
      ws.on('unexpected-response', (_req, res) => {
        const retryAfter = Number(res.headers['retry-after']);
        answered = { status: res.statusCode ?? 0, retryAfterSeconds: Number.isFinite(retryAfter) ? retryAfter : undefined };
        res.resume();
        ws.terminate();
      });
      ws.on('error', (err) => {
        if (!answered) this.lastError = `${localAddress} -> ${url}: ${err.message}`;
      });
      ws.once('open', () => {
        opened = true;
        connection.ws = ws;
        this.counts.open++;
        this.times.lastOpenAt = now();
        resolve({ opened: true });
      });
      ws.on('message', (data: Buffer, isBinary) => this.onFrame(connection, data, isBinary));
      ws.once('close', (code) => {
        if (!opened) {
          resolve({ opened: false, ...answered });
          return;
        }
        this.counts.open--;
        connection.ws = null;
        if (!this.closing) this.closedByCode[code] = (this.closedByCode[code] ?? 0) + 1;
      });
    });
  }

  private onFrame(connection: Connection, data: Buffer, isBinary: boolean): void {
    if (!isBinary && startsWith(data, MESSAGE_PREFIX)) {
      connection.messages++;
      this.counts.messages++;
      this.times.lastMessageAt = now();
      if (this.ack) {
        const end = data.indexOf(QUOTE, MESSAGE_PREFIX.length);
        if (end > MESSAGE_PREFIX.length) {
          connection.unacked.push(data.toString('latin1', MESSAGE_PREFIX.length, end));
          this.toAck.add(connection);
          this.scheduleAcks();
        }
      }
    } else if (!isBinary && startsWith(data, WELCOME_PREFIX)) {
      if (!connection.welcomed) {
        connection.welcomed = true;
        this.counts.welcomed++;
      }
      this.times.lastWelcomeAt = now();
    } else {
      this.counts.unexpected++;
      this.lastError = `unexpected frame: ${data.toString('utf8', 0, Math.min(data.length, 200))}`;
    }
  }

  /** The ids of this event-loop turn go out after it, one frame per connection. */
  private scheduleAcks(): void {
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => {
      this.ackScheduled = false;
      for (const connection of this.toAck) {
        const ids = connection.unacked;
        connection.unacked = [];
        if (!connection.ws) continue;
        for (let start = 0; start < ids.length; start += ACK_IDS_MAX) {
          const chunk = ids.slice(start, start + ACK_IDS_MAX);
          // Ids are message ids the gateway sent (no quotes or backslashes in them).
          connection.ws.send(`{"type":"ack","ids":["${chunk.join('","')}"]}`);
          this.counts.ackFrames++;
          this.counts.ackedIds += chunk.length;
        }
      }
      this.toAck.clear();
    });
  }
}

function startsWith(data: Buffer, prefix: Buffer): boolean {
  return data.length >= prefix.length && data.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
