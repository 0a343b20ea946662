/**
 * What the bench and its client processes (client-process.ts) say to each other, and the one
 * place that knows how a pushed frame carries the producer's timestamp.
 *
 * Every pushed message's payload is `{"t":<send time, epoch ms with sub-ms digits>,"s":<the
 * user's sequence number>}`. Herald's frame is `{"type":"message","id":…,"category":…,
 * "payload":{"t":…,"s":…},"createdAt":…}` (serialized once by the producer, as ingest does);
 * the baseline's producer sends the very same frame, so both targets push the same bytes.
 */
export type Target = 'herald' | 'baseline';
export const TARGETS: readonly Target[] = ['herald', 'baseline'];

export interface PushPayload {
  /** When the message was due to be sent (open loop: its scheduled time), epoch ms. */
  t: number;
  /** The recipient's sequence number: 0, 1, 2, … per user (per broadcast for a category). */
  s: number;
}

export interface ClientUser {
  id: string;
  /** Herald only: the bearer token. */
  token?: string;
  /** Local address the socket is bound to (127.0.0.x), to spread sockets over source addresses. */
  address: string;
}

export interface ConnectRequest {
  type: 'connect';
  target: Target;
  /** Herald: ws://…/ws (token in the Authorization header); baseline: ws://… (`?u=<id>` is appended). */
  url: string;
  users: ClientUser[];
  /** Ack every message (Herald clients do; the baseline has no acks). */
  ack: boolean;
  /** Keep each latency by sequence number (a broadcast's spread), besides the histogram. */
  keepPerSeq: boolean;
  /** Connects in flight at once. */
  concurrency: number;
}

export interface ConnectReply {
  connected: number;
  /** Upgrades answered 503 (or reset) and tried again. */
  retries: number;
}

export interface ResetRequest {
  type: 'reset';
}

export interface ReportRequest {
  type: 'report';
  /** With the histogram and the per-sequence latencies (else counts only, for polling). */
  full: boolean;
}

export interface ClientCounts {
  received: number;
  /** Messages whose sequence number was not the next one of their user: a gap, a repeat or a swap. */
  outOfOrder: number;
  /** Frames that were neither a welcome nor a readable message. */
  unexpected: number;
  firstUnexpected: string | null;
  /** Sockets closed while connected. */
  closed: number;
  firstCloseCode: number | null;
  /** Arrival of the first and the last message since the last reset, epoch ms. */
  firstAtMs: number | null;
  lastAtMs: number | null;
}

export interface ClientReport extends ClientCounts {
  /** HdrHistogram of latencies in microseconds, compressed (see latency.ts). */
  histogram?: string;
  /** Latencies in ms by sequence number, when `keepPerSeq`. */
  perSeq?: Record<string, number[]>;
}

export interface CloseRequest {
  type: 'close';
}

export type ClientRequest = ConnectRequest | ResetRequest | ReportRequest | CloseRequest;

export const MESSAGE_PREFIX = '{"type":"message","id":"';
export const WELCOME_PREFIX = '{"type":"welcome"';
const PAYLOAD_T = '"payload":{"t":';
const PAYLOAD_S = ',"s":';

export interface ReadFrame {
  id: string;
  t: number;
  s: number;
}

/**
 * The id, timestamp and sequence number of a message frame, read without parsing the JSON (the
 * clients share the machine with what they measure); null for anything else.
 */
export function readMessageFrame(text: string): ReadFrame | null {
  if (!text.startsWith(MESSAGE_PREFIX)) return null;
  const idEnd = text.indexOf('"', MESSAGE_PREFIX.length);
  const p = text.indexOf(PAYLOAD_T, idEnd);
  if (idEnd < 0 || p < 0) return null;
  const tStart = p + PAYLOAD_T.length;
  const sAt = text.indexOf(PAYLOAD_S, tStart);
  const sEnd = sAt < 0 ? -1 : text.indexOf('}', sAt);
  if (sEnd < 0) return null;
  const t = Number(text.slice(tStart, sAt));
  const s = Number(text.slice(sAt + PAYLOAD_S.length, sEnd));
  if (!Number.isFinite(t) || !Number.isInteger(s)) return null;
  return { id: text.slice(MESSAGE_PREFIX.length, idEnd), t, s };
}
