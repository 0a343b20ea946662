/**
 * The exposure event's JSON is the Contract's ExposureEvent exactly: every member, nothing else,
 * any string escaped, and the same as JSON.stringify of the whole event would give.
 */
import { randomUUID } from 'node:crypto';
import type { ExposureEvent } from '@herald/types';
import { exposureJson, sessionJson, WRITTEN_MEMBERS } from '../src/exposure/event-json';

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
