/**
 * Several events in one Pub/Sub message: the events topic's format (docs/PROTOCOL.md, "The events
 * topic"). Gateways and ingest pack what one publish call carries; the exposure-consumer unpacks.
 *
 * Why: every Pub/Sub message costs its own work in every process it passes, whatever its size:
 * the publisher's request entry, Pub/Sub's (or the emulator's) storage and delivery, and the
 * consumer's protobuf decode, lease, ack id and settle (docs/BENCHMARKS.md, "Events packed into
 * messages"). At 1,000 pushes a second a gateway's publish call holds ~20 exposures; as one message
 * they cost those steps once instead of twenty times.
 *
 * The format:
 * - a message holds events of one kind: attribute `kind` as for a single event (absent for
 *   exposures), and the events' JSON, one per line (`\n` between them, none at the end);
 * - attribute `events` says how many (2 to EVENTS_PER_MESSAGE_MAX). Without it the message's data
 *   is one event, as every message was before: a message of one event is still written that way,
 *   so `EVENTS_PER_PUBSUB_MESSAGE=1` publishes exactly the old format (a rollout's first step,
 *   docs/OPERATIONS.md);
 * - JSON never holds a raw line break (strings escape it), so a line is an event. An event whose
 *   text holds one anyway (not written by Herald) goes alone, without `events`;
 * - with compression (`EVENTS_PUBSUB_COMPRESSION=deflate`), a packed message of COMPRESS_MIN_BYTES
 *   or more goes as raw DEFLATE (RFC 1951, no zlib or gzip header) with the attribute
 *   `encoding: deflate`: its lines repeat most of their bytes (the message's id and category, the
 *   gateway's, the time's head), so its data shrinks ~6× for ~0.5 µs of CPU an exposure; Pub/Sub's
 *   work (and bill) per byte shrinks with it (docs/BENCHMARKS.md, "Events compressed"). A message
 *   of one event never is: it stays the format before packing.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { EVENT_KIND_ATTRIBUTE } from '@herald/types';
import type { OutgoingMessage } from './batch-publisher';

/** The attribute holding the number of events (lines) in a message; absent: one, the whole data. */
export const EVENT_COUNT_ATTRIBUTE = 'events';
/** Most events one message may hold; a consumer refuses a message that claims more. */
export const EVENTS_PER_MESSAGE_MAX = 1000;
/**
 * Characters of data per message, at most (3 bytes each at worst in UTF-8, well under Pub/Sub's
 * 10 MB per message; data given as bytes counts its bytes); events past it start the next message.
 */
export const EVENTS_MESSAGE_MAX_CHARS = 1_000_000;
/** The attribute naming how a message's data is compressed; absent: it is not. */
export const EVENT_ENCODING_ATTRIBUTE = 'encoding';
/** How a packed message's data may be compressed (EVENTS_PUBSUB_COMPRESSION): raw DEFLATE, or not at all. */
export type EventCompression = 'deflate' | 'none';
/**
 * Packed data shorter than this (~25 exposures) goes uncompressed: each call makes its own zlib
 * stream, ~25 µs to deflate and ~10 to inflate whatever the size, 6 and 2.5 µs an event in a
 * message of five (docs/BENCHMARKS.md, "Events compressed…"); past it the bytes saved outweigh it.
 */
export const COMPRESS_MIN_BYTES = 8192;
/**
 * Most bytes a compressed message may inflate to: Pub/Sub's own limit for a message's data. Past
 * it the message is not Herald's (its uncompressed data is bounded by EVENTS_MESSAGE_MAX_CHARS):
 * refused, not inflated further.
 */
export const INFLATED_MAX_BYTES = 10_000_000;
/** Level 1: ~0.5 µs an exposure, 6.3× smaller; level 6 saves 5 % more bytes for twice the CPU (docs/BENCHMARKS.md). */
const DEFLATE_OPTIONS = { level: 1 } as const;
const NEWLINE = 0x0a;
const LINE_BREAK_BYTES = Buffer.from('\n');

/**
 * An event to publish: its JSON, and its kind (absent for an exposure). With `count` (2 or more)
 * `data` is that many events of the kind already packed, one per line (as a message holds them;
 * the gateway's exposure log packs them so): they stay together, in one message with the events
 * of the kind around them as far as `perMessage` allows (alone when they are `perMessage` or more).
 */
export interface OutgoingEvent {
  /** UTF-8 bytes are taken as they are (a gateway's exposures, encoded once for its log). */
  data: string | Buffer;
  kind?: string;
  count?: number;
}

/** Events of one kind being packed into a message. */
interface Open {
  kind: string | undefined;
  /** Each one event's JSON, or several packed already (OutgoingEvent.count). */
  lines: Array<string | Buffer>;
  /** The events the lines hold. */
  count: number;
  chars: number;
}

/**
 * `events` as Pub/Sub messages of at most `perMessage` events each (1 to EVENTS_PER_MESSAGE_MAX),
 * grouped by kind; within a kind the events keep their order. With `compression` 'deflate', the
 * packed messages of COMPRESS_MIN_BYTES or more go compressed.
 */
export function packEvents(events: readonly OutgoingEvent[], perMessage: number, compression: EventCompression = 'none'): OutgoingMessage[] {
  if (!Number.isInteger(perMessage) || perMessage < 1 || perMessage > EVENTS_PER_MESSAGE_MAX) {
    throw new RangeError(`packEvents: perMessage must be a whole number from 1 to ${EVENTS_PER_MESSAGE_MAX}`);
  }
  const messages: OutgoingMessage[] = [];
  const open = new Map<string | undefined, Open>();
  const compress = compression === 'deflate';
  for (const event of events) {
    const count = event.count ?? 1;
    if (count === 1 && event.data.includes('\n')) {
      messages.push(single(event));
      continue;
    }
    let group = open.get(event.kind);
    if (group === undefined) open.set(event.kind, (group = { kind: event.kind, lines: [], count: 0, chars: 0 }));
    if (group.count > 0 && (group.count + count > perMessage || group.chars + event.data.length > EVENTS_MESSAGE_MAX_CHARS)) flush(group, messages, compress);
    group.lines.push(event.data);
    group.count += count;
    group.chars += event.data.length + 1;
    if (group.count >= perMessage) flush(group, messages, compress);
  }
  for (const group of open.values()) flush(group, messages, compress);
  return messages;
}

function single({ data, kind }: OutgoingEvent): OutgoingMessage {
  return kind === undefined ? { data } : { data, attributes: { [EVENT_KIND_ATTRIBUTE]: kind } };
}

/** The open message out (unless empty), and a fresh one begun. */
function flush(open: Open, messages: OutgoingMessage[], compress: boolean): void {
  const { lines, count, kind } = open;
  if (count === 1) messages.push(single({ data: lines[0], kind }));
  else if (count > 1) messages.push(packed(lines.length === 1 ? lines[0] : joinLines(lines), count, kind, compress));
  open.lines = [];
  open.count = 0;
  open.chars = 0;
}

/** The lines one after another, `\n` between them: a string, or bytes when one of them is. */
function joinLines(lines: ReadonlyArray<string | Buffer>): string | Buffer {
  if (lines.every((line) => typeof line === 'string')) return (lines as string[]).join('\n');
  const parts: Buffer[] = [];
  for (const line of lines) {
    if (parts.length > 0) parts.push(LINE_BREAK_BYTES);
    parts.push(typeof line === 'string' ? Buffer.from(line) : line);
  }
  return Buffer.concat(parts);
}

/** A message of `count` events of `kind`, one per line in `data`; compressed when asked and worth it. */
function packed(data: string | Buffer, count: number, kind: string | undefined, compress: boolean): OutgoingMessage {
  const attributes: Record<string, string> = { [EVENT_COUNT_ATTRIBUTE]: String(count) };
  if (kind !== undefined) attributes[EVENT_KIND_ATTRIBUTE] = kind;
  // data.length counts a string's characters: at least as many bytes.
  if (compress && data.length >= COMPRESS_MIN_BYTES) {
    const deflated = deflateRawSync(data, DEFLATE_OPTIONS);
    // JSON lines always shrink; bytes that do not (not Herald's) go as they are.
    if (deflated.length < Buffer.byteLength(data)) {
      attributes[EVENT_ENCODING_ATTRIBUTE] = 'deflate';
      return { data: deflated, attributes };
    }
  }
  return { data, attributes };
}

/**
 * How many events a message says it holds (1 without the attribute, or when the attribute is not
 * a count; unpackEvents refuses such a message): what a consumer's flow control counts.
 */
export function eventCount(attributes: Readonly<Record<string, string>>): number {
  const count = countOf(attributes[EVENT_COUNT_ATTRIBUTE]);
  return count ?? 1;
}

function countOf(value: string | undefined): number | undefined {
  if (value === undefined || !/^[1-9]\d{0,3}$/.test(value)) return undefined;
  const count = Number(value);
  return count <= EVENTS_PER_MESSAGE_MAX ? count : undefined;
}

/** A message's events (each a view of its data), or why they cannot be read. */
export type UnpackedEvents = { ok: true; events: Buffer[] } | { ok: false; reason: string };

/**
 * The events a message holds: its lines when it says how many (attribute `events`), else its whole
 * data; inflated first when it says it is compressed (attribute `encoding`).
 */
export function unpackEvents(packedData: Buffer, attributes: Readonly<Record<string, string>>): UnpackedEvents {
  const inflated = decoded(packedData, attributes[EVENT_ENCODING_ATTRIBUTE]);
  if (!inflated.ok) return inflated;
  const { data } = inflated;
  const attribute = attributes[EVENT_COUNT_ATTRIBUTE];
  if (attribute === undefined) return { ok: true, events: [data] };
  const count = countOf(attribute);
  if (count === undefined) {
    return { ok: false, reason: `the ${EVENT_COUNT_ATTRIBUTE} attribute "${attribute.slice(0, 20)}" is not a count from 1 to ${EVENTS_PER_MESSAGE_MAX}` };
  }
  const events: Buffer[] = [];
  let start = 0;
  for (;;) {
    const end = data.indexOf(NEWLINE, start);
    events.push(data.subarray(start, end < 0 ? data.length : end));
    if (end < 0) break;
    start = end + 1;
    if (events.length > count) break;
  }
  if (events.length !== count) {
    return { ok: false, reason: `the ${EVENT_COUNT_ATTRIBUTE} attribute says ${count} events, the data holds ${events.length > count ? 'more' : events.length} lines` };
  }
  return { ok: true, events };
}

/** A message's data as it was packed: inflated when its `encoding` says deflate; refused for any other encoding. */
function decoded(data: Buffer, encoding: string | undefined): { ok: true; data: Buffer } | { ok: false; reason: string } {
  if (encoding === undefined) return { ok: true, data };
  if (encoding !== 'deflate') return { ok: false, reason: `the ${EVENT_ENCODING_ATTRIBUTE} attribute "${encoding.slice(0, 20)}" is not one Herald writes (deflate)` };
  try {
    return { ok: true, data: inflateRawSync(data, { maxOutputLength: INFLATED_MAX_BYTES }) };
  } catch (err) {
    const tooLarge = (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
    return { ok: false, reason: tooLarge ? `the data inflates past ${INFLATED_MAX_BYTES} bytes` : `the data is not raw DEFLATE (${(err as Error).message})` };
  }
}
