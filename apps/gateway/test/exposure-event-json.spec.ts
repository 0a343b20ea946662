/**
 * The exposure event's JSON is the Contract's ExposureEvent exactly: every member, nothing else,
 * any string escaped, and the same as JSON.stringify of the whole event would give.
 */
import { randomUUID } from 'node:crypto';
import type { ExposureEvent } from '@herald/types';
import { exposureJson, messageJson, pushJson, sessionJson, WRITTEN_MEMBERS } from '../src/exposure/event-json';
import { EventIds } from '../src/exposure/event-ids';

/** Every member of the Contract (a member added to ExposureEvent does not compile here until set). */
function contractEvent(overrides: Partial<ExposureEvent> = {}): ExposureEvent {
  const event: Required<ExposureEvent> = {
    eventId: randomUUID(),
    messageId: 'm-1',
    userId: 'u-1',
    category: 'news',
    sessionId: 's-1',
    gatewayId: 'gw-1',
    deliveredAt: new Date().toISOString(),
    via: 'live',
  };
  return { ...event, ...overrides };
}

function serialize(event: ExposureEvent): string {
  const { userId, sessionId, gatewayId, ...push } = event;
  return exposureJson(push, sessionJson({ userId, sessionId, gatewayId }));
}

it('writes exactly the members of the Contract, with their values', () => {
  const event = contractEvent();
  const parsed = JSON.parse(serialize(event)) as Record<string, unknown>;
  expect(parsed).toEqual(event);
  expect(Object.keys(parsed).sort()).toEqual(Object.keys(event).sort());
  expect([...WRITTEN_MEMBERS].sort()).toEqual(Object.keys(event).sort());
});

it('writes a null category and the offline path', () => {
  const event = contractEvent({ category: null, via: 'offline' });
  expect(JSON.parse(serialize(event))).toEqual(event);
});

it('escapes strings that come from outside (quotes, backslashes, newlines, unicode)', () => {
  // U+2028 is valid in JSON strings but ended a JavaScript string literal before ES2019.
  const outside = { messageId: 'a"b\\c\nd', userId: 'ünï"\u2028', category: 'cat\t"x"', sessionId: '\u0000s', gatewayId: 'gw "east"' };
  const event = contractEvent(outside);
  const json = serialize(event);
  expect(json).not.toContain('\n');
  expect(JSON.parse(json)).toEqual(event);
});

it('makes event ids that are UUIDs (version 4 layout), all different, and a time string per millisecond', () => {
  const ids = new EventIds();
  const made = Array.from({ length: 10_000 }, () => ids.id());
  for (const id of [made[0], made[9_999]]) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(new Set(made).size).toBe(made.length);
  expect(new EventIds().id().slice(0, 24)).not.toBe(made[0].slice(0, 24));
  const ms = Date.UTC(2026, 11, 3, 7, 0, 0, 123);
  expect(ids.isoTime(ms)).toBe('2026-12-03T07:00:00.123Z');
  expect(ids.isoTime(ms + 1)).toBe('2026-12-03T07:00:00.124Z');
});

it('writes the same event from its message, push and session parts as from the whole', () => {
  const event = contractEvent({ category: 'a"b' });
  const { userId, sessionId, gatewayId, messageId, category, ...own } = event;
  const json = pushJson(own, messageJson({ messageId, category }), sessionJson({ userId, sessionId, gatewayId }));
  expect(json).toBe(serialize(event));
});
