/**
 * A client process of the push scenarios (forked by client-fleet.ts): holds up to ~15k WebSocket
 * clients, each bound to its own source address, and for every message frame records the latency
 * (arrival − the payload's `t`) in an HdrHistogram, checks the user's sequence number and, for
 * Herald, acks it at once as a client SDK would. It parses no JSON on the way (see
 * readMessageFrame): it shares the CPU with what it measures.
 */
import WebSocket from 'ws';
import type { Histogram } from 'hdr-histogram-js';
import {
  WELCOME_PREFIX,
  readMessageFrame,
  type ClientCounts,
  type ClientReport,
  type ClientRequest,
  type ClientUser,
  type ConnectReply,
  type ConnectRequest,
} from './client-protocol';
import { encodeHistogram, newLatencyHistogram, nowMs } from './latency';
import { serveRequests } from './worker-ipc';

/** Attempts per socket when the server answers 503 (door limits) or resets the connection. */
const CONNECT_ATTEMPTS = 10;
const RETRY_BASE_MS = 200;
const WELCOME_TIMEOUT_MS = 30_000;
const CLOSE_WAIT_MS = 2000;

interface Socket {
  ws: WebSocket;
  /** The next sequence number expected from the producer. */
  expected: number;
}

const sockets: Socket[] = [];
let histogram: Histogram = newLatencyHistogram();
let perSeq = new Map<number, number[]>();
let counts: ClientCounts = emptyCounts();
let settings: ConnectRequest | undefined;
/** Set once the bench asked to close: closes from then on are ours, not the server's. */
let closing = false;

function emptyCounts(): ClientCounts {
  return {
    received: 0,
    outOfOrder: 0,
    unexpected: 0,
    firstUnexpected: null,
    closed: 0,
    firstCloseCode: null,
    firstAtMs: null,
    lastAtMs: null,
  };
}

function onFrame(socket: Socket, data: Buffer): void {
  const at = nowMs();
  const text = data.toString();
  const frame = readMessageFrame(text);
  if (!frame) {
    if (!text.startsWith(WELCOME_PREFIX)) {
      counts.unexpected++;
      counts.firstUnexpected ??= text.slice(0, 200);
    }
    return;
  }
  const latencyMs = at - frame.t;
  counts.received++;
  counts.firstAtMs ??= at;
  counts.lastAtMs = at;
  histogram.recordValue(Math.max(0, Math.round(latencyMs * 1000)));
  if (frame.s !== socket.expected) counts.outOfOrder++;
  socket.expected = frame.s + 1;
  if (settings?.keepPerSeq) {
    let list = perSeq.get(frame.s);
    if (!list) perSeq.set(frame.s, (list = []));
    list.push(latencyMs);
  }
  if (settings?.ack) socket.ws.send(`{"type":"ack","ids":["${frame.id}"]}`);
}

/** Open one client; resolves once the server's welcome has arrived (its channel is live). */
function open(request: ConnectRequest, user: ClientUser): Promise<Socket> {
  const url = request.target === 'herald' ? request.url : `${request.url}/?u=${encodeURIComponent(user.id)}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      headers: user.token ? { authorization: `Bearer ${user.token}` } : undefined,
      localAddress: user.address,
      perMessageDeflate: false,
      skipUTF8Validation: true,
    });
    const socket: Socket = { ws, expected: 0 };
    let welcomed = false;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no welcome for ${user.id} within ${WELCOME_TIMEOUT_MS} ms`));
    }, WELCOME_TIMEOUT_MS);
    ws.on('message', (data: Buffer) => {
      if (!welcomed && data.subarray(0, WELCOME_PREFIX.length).toString() === WELCOME_PREFIX) {
        welcomed = true;
        clearTimeout(timer);
        resolve(socket);
        return;
      }
      onFrame(socket, data);
    });
    ws.once('error', (err) => {
      clearTimeout(timer);
      if (!welcomed) reject(err);
    });
    ws.on('close', (code) => {
      clearTimeout(timer);
      if (!welcomed) return reject(new Error(`closed with ${code} before the welcome`));
      if (closing) return;
      counts.closed++;
      counts.firstCloseCode ??= code;
    });
  });
}

function retryable(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /Unexpected server response: 503|ECONNRESET|ECONNREFUSED|socket hang up/.test(message);
}

async function connect(request: ConnectRequest): Promise<ConnectReply> {
  settings = request;
  let retries = 0;
  let next = 0;
  const worker = async () => {
    while (next < request.users.length) {
      const user = request.users[next++];
      for (let attempt = 1; ; attempt++) {
        try {
          sockets.push(await open(request, user));
          break;
        } catch (err) {
          if (attempt >= CONNECT_ATTEMPTS || !retryable(err)) {
            throw new Error(`${user.id} from ${user.address}: ${err instanceof Error ? err.message : String(err)}`);
          }
          retries++;
          await new Promise((r) => setTimeout(r, RETRY_BASE_MS * attempt));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(request.concurrency, request.users.length) }, worker));
  return { connected: sockets.length, retries };
}

async function closeAll(): Promise<void> {
  closing = true;
  const live = sockets.filter((s) => s.ws.readyState === WebSocket.OPEN || s.ws.readyState === WebSocket.CONNECTING);
  await Promise.race([
    Promise.all(
      live.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.ws.once('close', () => resolve());
            s.ws.close();
          }),
      ),
    ),
    new Promise((r) => setTimeout(r, CLOSE_WAIT_MS)),
  ]);
  for (const s of sockets) s.ws.terminate();
}

serveRequests(async (body) => {
  const request = body as ClientRequest;
  switch (request.type) {
    case 'connect':
      return connect(request);
    case 'reset':
      histogram.destroy();
      histogram = newLatencyHistogram();
      perSeq = new Map();
      counts = { ...emptyCounts(), closed: counts.closed, firstCloseCode: counts.firstCloseCode };
      return null;
    case 'report': {
      const report: ClientReport = { ...counts };
      if (request.full) {
        report.histogram = encodeHistogram(histogram);
        if (settings?.keepPerSeq) report.perSeq = Object.fromEntries(perSeq);
      }
      return report;
    }
    case 'close':
      await closeAll();
      return null;
  }
});
