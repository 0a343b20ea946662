/**
 * One message of the events topic as the webhook dispatcher needs it: its kind (the `kind` field,
 * else the Pub/Sub attribute `kind`, else `delivered`: an exposure, events.ts), its category (for
 * an endpoint's filter) and the event itself, with `kind` always written, as receivers get it.
 * The dispatcher only routes events; the exposure-consumer is the one that validates them for
 * storage, so this checks what routing needs and bounds the size.
 */
import { EVENT_KIND_ATTRIBUTE, isCategory, isWebhookEventKind, type EventKind } from '@herald/types';

/** Larger messages are not events of the topic. */
export const MAX_EVENT_BYTES = 16 * 1024;
/** Event ids are made by Herald's processes; the bound stops abuse. */
const MAX_ID_LENGTH = 200;

export interface RoutedEvent {
  kind: EventKind;
  category: string | null;
  eventId: string;
  /** The event as the receiver gets it (`kind` included). */
  event: { kind: EventKind; eventId: string } & Record<string, unknown>;
}

export type ParsedEvent = { ok: true; routed: RoutedEvent } | { ok: false; reason: string };

export function parseEvent(data: Buffer, attributes: Record<string, string> = {}): ParsedEvent {
  if (data.length > MAX_EVENT_BYTES) return fail(`${data.length} bytes, over ${MAX_EVENT_BYTES}`);
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch {
    return fail('not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('not a JSON object');
  const raw = value as Record<string, unknown>;
  const kind = raw.kind ?? attributes[EVENT_KIND_ATTRIBUTE] ?? 'delivered';
  if (!isWebhookEventKind(kind)) return fail(`unknown kind ${JSON.stringify(kind).slice(0, 40)}`);
  if (typeof raw.eventId !== 'string' || raw.eventId.length === 0 || raw.eventId.length > MAX_ID_LENGTH) {
    return fail('no eventId');
  }
  const category = raw.category ?? null;
  if (category !== null && !isCategory(category)) return fail('category is neither null nor a category name');
  return { ok: true, routed: { kind, category, eventId: raw.eventId, event: { ...raw, kind, eventId: raw.eventId } } };
}

function fail(reason: string): ParsedEvent {
  return { ok: false, reason };
}
