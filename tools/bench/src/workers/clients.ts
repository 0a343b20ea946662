/**
 * A client process of the fleet (fleet.ts): up to ~15k WebSockets, each bound to its source
 * address, retried after a 503 (for as long as Retry-After says, up to 2 min) or a few times after
 * other failures, a 401, 403 or 404 excepted (connect-retry.ts). For Herald it acks every message id, one frame per connection and event-loop
 * turn, as a client SDK does. A payload `{"t":<send time>,"s":<sequence>}` gives a latency and an
 * order check. It parses no JSON: it shares the CPU with what it measures.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { build, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import WebSocket from 'ws';
import { MAX_ACK_IDS } from '@herald/types';
import { nowMs, serveRequests } from './protocol';
import { nextStep, RETRY } from './connect-retry';
import { socketioAck, socketioUrl, unwrapSocketio } from './socketio-frames';

/**
 * `open`: connection k is [index into urls, into addresses, Herald: a bearer token; baselines: a
 * user id] (the baselines' URLs get `?u=<user>`; `socketio`: Socket.IO's framing, socketio-frames.ts), `concurrency` handshakes at once; `keepPerSeq`
 * keeps each latency by sequence number (a broadcast's spread). `stats` counts the connections
 * with `atLeast` messages, `full` adds the latencies; `reset` forgets what was received.
 */
export type OpenRequest = {
  type: 'open'; herald: boolean; socketio?: boolean; urls: string[]; addresses: string[]; connections: Array<[number, number, string]>;
  ack: boolean; keepPerSeq: boolean; concurrency: number;
};
export type ClientsRequest = OpenRequest | { type: 'stats'; atLeast: number; full: boolean } | { type: 'reset' } | { type: 'close' };

/** refused: 503s retried; retried: other failed attempts; failed: connections given up; the histogram in µs, compressed base64. */
export type ClientStats = ReturnType<typeof report>;

/** The gateway serializes a frame with `type` and `id` first. */
const MESSAGE = Buffer.from('{"type":"message","id":"');
const WELCOME = Buffer.from('{"type":"welcome"');
const PAYLOAD_T = Buffer.from('"payload":{"t":');
const COMMA_S = Buffer.from(',"s":');

/** `expected`: the next sequence number; `unacked`: ids waiting for this turn's ack frame. */
type Connection = { ws: WebSocket | null; welcomed: boolean; messages: number; expected: number; unacked: string[] };

const connections: Connection[] = [];
const toAck = new Set<Connection>();
let settings: OpenRequest | undefined;
let closing = false;
const histogram: Histogram = build({ numberOfSignificantValueDigits: 3 });
let perSeq = new Map<number, number[]>();
const stats = { open: 0, welcomed: 0, messages: 0, outOfOrder: 0, ackedIds: 0, ackFrames: 0, refused: 0, retried: 0, failed: 0, unexpected: 0 };
const closedByCode: Record<string, number> = {};
const never = null as number | null;
const times = { firstAttemptAt: never, lastOpenAt: never, lastWelcomeAt: never, firstMessageAt: never, lastMessageAt: never };
let lastError: string | null = null;

const startsWith = (data: Buffer, prefix: Buffer) => data.length >= prefix.length && data.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;

async function openAll(request: OpenRequest): Promise<null> {
  settings = request;
  let next = 0;
  const worker = async () => {
    while (next < request.connections.length && !closing) {
      const [url, address, credential] = request.connections[next++];
      const connection: Connection = { ws: null, welcomed: false, messages: 0, expected: 0, unacked: [] };
      connections.push(connection);
      const base = request.urls[url];
      const target = request.herald ? base : request.socketio ? socketioUrl(base, credential) : `${base}/?u=${encodeURIComponent(credential)}`;
      await connect(connection, target, request.addresses[address], request.herald ? credential : undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, request.concurrency) }, worker));
  return null;
}

async function connect(connection: Connection, url: string, localAddress: string, token: string | undefined): Promise<void> {
  const refusedUntil = Date.now() + RETRY.refusedForMs;
  for (let attempt = 1; !closing; ) {
    times.firstAttemptAt ??= nowMs();
    const outcome = await attemptOnce(connection, url, localAddress, token);
    if (outcome.opened) return;
    const step = nextStep(outcome.status, attempt, Date.now(), refusedUntil);
    if (step === 'refused') {
      stats.refused++;
      await sleep((outcome.retryAfterSeconds ?? RETRY.baseMs / 1000) * 1000 + Math.random() * RETRY.jitterMs);
    } else if (step === 'give-up') {
      stats.failed++;
      // An answer is no socket error: say what it was (a failure of the socket set lastError).
      if (outcome.status !== undefined) lastError = `${localAddress} -> ${url.split('?')[0]}: HTTP ${outcome.status}`;
      return;
    } else {
      attempt++;
      stats.retried++;
      await sleep(RETRY.baseMs + Math.random() * RETRY.jitterMs);
    }
  }
}

/** Resolves once the socket is open, or with why not (the HTTP status when the server answered). */
function attemptOnce(connection: Connection, url: string, localAddress: string, token?: string) {
  return new Promise<{ opened: boolean; status?: number; retryAfterSeconds?: number }>((resolve) => {
    const headers = token ? { authorization: `Bearer ${token}` } : undefined;
    const ws = new WebSocket(url, { headers, perMessageDeflate: false, skipUTF8Validation: true, localAddress, handshakeTimeout: RETRY.handshakeMs });
    let answered: { status: number; retryAfterSeconds?: number } | undefined;
    let opened = false;
    ws.on('unexpected-response', (_req, res) => {
      const retryAfter = Number(res.headers['retry-after']);
      answered = { status: res.statusCode ?? 0, retryAfterSeconds: Number.isFinite(retryAfter) ? retryAfter : undefined };
      res.resume();
      ws.terminate();
    });
    ws.on('error', (err) => {
      if (!answered) lastError = `${localAddress} -> ${url.split('?')[0]}: ${err.message}`;
    });
    ws.once('open', () => {
      opened = true;
      connection.ws = ws;
      stats.open++;
      times.lastOpenAt = nowMs();
      resolve({ opened: true });
    });
    ws.on('message', (data: Buffer, isBinary) => {
      const frame = settings?.socketio && !isBinary ? unwrapSocketio(data, (packet) => ws.send(packet)) : data;
      if (frame) onFrame(connection, frame, isBinary);
    });
    ws.once('close', (code) => {
      if (!opened) return resolve({ opened: false, ...answered });
      stats.open--;
      connection.ws = null;
      if (!closing) closedByCode[code] = (closedByCode[code] ?? 0) + 1;
    });
  });
}

function onFrame(connection: Connection, data: Buffer, isBinary: boolean): void {
  if (isBinary || !startsWith(data, MESSAGE)) {
    if (!isBinary && startsWith(data, WELCOME)) {
      if (!connection.welcomed) stats.welcomed++;
      connection.welcomed = true;
      times.lastWelcomeAt = nowMs();
    } else {
      stats.unexpected++;
      lastError = `unexpected frame: ${data.toString('utf8', 0, Math.min(data.length, 200))}`;
    }
    return;
  }
  const at = nowMs();
  connection.messages++;
  stats.messages++;
  times.firstMessageAt ??= at;
  times.lastMessageAt = at;
  const idEnd = data.indexOf(0x22, MESSAGE.length);
  const t = data.indexOf(PAYLOAD_T, idEnd);
  const s = t < 0 ? -1 : data.indexOf(COMMA_S, t);
  if (s > 0) {
    const latencyMs = at - Number(data.toString('latin1', t + PAYLOAD_T.length, s));
    const seq = Number(data.toString('latin1', s + COMMA_S.length, data.indexOf(0x7d, s)));
    histogram.recordValue(Math.max(0, Math.round(latencyMs * 1000)));
    if (seq !== connection.expected) stats.outOfOrder++;
    connection.expected = seq + 1;
    if (settings?.keepPerSeq) {
      if (!perSeq.has(seq)) perSeq.set(seq, []);
      perSeq.get(seq)!.push(latencyMs);
    }
  }
  if (settings?.ack && idEnd > MESSAGE.length) {
    // An empty set: no ack frame is scheduled yet for this event-loop turn.
    if (toAck.size === 0) setImmediate(sendAcks);
    connection.unacked.push(data.toString('latin1', MESSAGE.length, idEnd));
    toAck.add(connection);
  }
}

/** The ids of this event-loop turn go out after it, one frame per connection. */
function sendAcks(): void {
  for (const connection of toAck) {
    const ids = connection.unacked;
    connection.unacked = [];
    for (let start = 0; connection.ws && start < ids.length; start += MAX_ACK_IDS) {
      const chunk = ids.slice(start, start + MAX_ACK_IDS);
      // Ids are message ids the gateway sent (no quotes or backslashes in them).
      connection.ws.send(settings?.socketio ? socketioAck(chunk) : `{"type":"ack","ids":["${chunk.join('","')}"]}`);
      stats.ackFrames++;
      stats.ackedIds += chunk.length;
    }
  }
  toAck.clear();
}

function report(atLeast: number, full: boolean) {
  const cpu = process.cpuUsage();
  return {
    ...stats, ...times, closedByCode: { ...closedByCode }, lastError, assigned: connections.length,
    withAtLeast: connections.filter((c) => c.messages >= atLeast).length, cpuSeconds: (cpu.user + cpu.system) / 1e6,
    rssBytes: process.memoryUsage.rss(), histogram: full ? encodeIntoCompressedBase64(histogram) : undefined,
    perSeq: full && settings?.keepPerSeq ? Object.fromEntries(perSeq) : undefined,
  };
}

serveRequests(async (request: ClientsRequest) => {
  if (request.type === 'open') return openAll(request);
  if (request.type === 'stats') return report(request.atLeast, request.full);
  if (request.type === 'reset') {
    histogram.reset();
    perSeq = new Map();
    for (const c of connections) c.messages = 0;
    Object.assign(stats, { messages: 0, outOfOrder: 0, unexpected: 0 });
    Object.assign(times, { firstMessageAt: null, lastMessageAt: null });
  } else {
    // close: no close handshake (thousands of sockets, and the server is measured).
    closing = true;
    for (const c of connections) c.ws?.terminate();
  }
  return null;
});
