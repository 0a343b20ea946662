/** Events by kind (libs/types events.ts): what the consumer accepts, and why it refuses the rest. */
import { parseEvent } from '../src/ingest/parse-event';
import { engagementOf, exposureOf, lossOf, messageEventOf, webPushOf } from './support/events';

const T = Date.UTC(2031, 4, 1, 10, 0, 0);
const body = (value: unknown) => Buffer.from(JSON.stringify(value));
const reasonOf = (value: unknown, attributes?: Record<string, string>) => {
  const parsed = parseEvent(body(value), attributes);
  return parsed.ok ? 'accepted' : parsed.reason;
};

test('each kind goes to its table; an exposure has no kind (or delivered) and keeps the Contract shape', () => {
  const exposure = exposureOf('m1', 'u1', T);
  expect(parseEvent(body(exposure))).toEqual({ ok: true, event: { table: 'exposures', event: exposure } });
  expect(parseEvent(body({ ...exposure, kind: 'delivered' }), { kind: 'delivered' })).toEqual({ ok: true, event: { table: 'exposures', event: exposure } });
  for (const kind of ['opened', 'clicked', 'dismissed'] as const) {
    const event = engagementOf(kind, 'm1', 'u1', T, 'news', kind === 'clicked' ? 'buy' : undefined);
    expect(parseEvent(body(event), { kind })).toEqual({ ok: true, event: { table: 'engagements', event } });
  }
  for (const kind of ['expired', 'dropped'] as const) {
    const event = lossOf(kind, 'm1', 'u1', T);
    expect(parseEvent(body(event), { kind })).toEqual({ ok: true, event: { table: 'losses', event } });
  }
  const sent = messageEventOf('sent', 'm1', T, { recipients: 3, size: 10, replaceKey: 'k', replaced: 1, dropped: 0, expiresAt: new Date(T + 1000).toISOString() });
  expect(parseEvent(body(sent))).toEqual({ ok: true, event: { table: 'messages', event: sent } });
  for (const kind of ['scheduled', 'recalled'] as const) expect(reasonOf(messageEventOf(kind, 'm1', T))).toBe('accepted');
  const push = webPushOf('m1', 'u1', 'sent', T);
  expect(parseEvent(body(push), { kind: 'webpush' })).toEqual({ ok: true, event: { table: 'webpush', event: push } });
});

test('times are normalised to UTC milliseconds', () => {
  const parsed = parseEvent(body({ ...lossOf('expired', 'm1', 'u1', T), at: '2031-05-01T12:00:00.123456+02:00' }));
  expect(parsed.ok && parsed.event.table === 'losses' && parsed.event.event.at).toBe('2031-05-01T10:00:00.123Z');
});

test.each([
  ['an unknown kind', { ...lossOf('expired', 'm1', 'u1', T), kind: 'seen' }, 'unknown kind "seen"'],
  ['a kind that is not a string', { ...lossOf('expired', 'm1', 'u1', T), kind: 3 }, 'kind must be a string'],
  ['an engagement id not derived from (kind, message, user)', { ...engagementOf('opened', 'm1', 'u1', T), userId: 'u2' }, 'eventId is not the one derived from (kind, messageId, userId)'],
  ['a loss id not derived', { ...lossOf('dropped', 'm1', 'u1', T), kind: 'expired' }, 'eventId is not the one derived from (kind, messageId, userId)'],
  ['a bad user id', { ...engagementOf('opened', 'm1', 'u1', T), userId: 'a b' }, 'userId is missing or not a valid user id'],
  ['a bad time', { ...engagementOf('opened', 'm1', 'u1', T), at: 'yesterday' }, /^at must be an ISO-8601/],
  ['an action too long', engagementOf('clicked', 'm1', 'u1', T, null, 'x'.repeat(65)), 'action must be a string of 1-64 characters'],
  ['no session', { ...engagementOf('opened', 'm1', 'u1', T), sessionId: undefined }, /^sessionId/],
  ['a bad category', { ...lossOf('expired', 'm1', 'u1', T), category: 'no spaces' }, 'category must be null or a valid category name'],
  ['a negative recipient count', messageEventOf('sent', 'm1', T, { recipients: -1 }), /^recipients must be a whole number/],
  ['an updated without version', messageEventOf('updated', 'm1', T), 'an updated event must carry its version'],
  ['version 0', messageEventOf('updated', 'm1', T, { version: 0 }), /^version must be/],
  ['a bad replace key', messageEventOf('sent', 'm1', T, { replaceKey: 'a/b' }), /^replaceKey/],
  ['no producer', { ...messageEventOf('sent', 'm1', T), producer: '' }, /^producer/],
  ['a Web Push outcome with an unknown status', { ...webPushOf('m1', 'u1', 'sent', T), status: 'maybe' }, /^status must be one of/],
  ['a Web Push outcome without its subscription', { ...webPushOf('m1', 'u1', 'sent', T), subscriptionId: '' }, /^subscriptionId/],
  ['a Web Push outcome with a bad HTTP status', { ...webPushOf('m1', 'u1', 'sent', T), httpStatus: 1000 }, 'httpStatus must be an HTTP status code'],
  ['a bad scheduledFor', messageEventOf('scheduled', 'm1', T, { scheduledFor: '0000-01-01T00:00:00Z' }), /^scheduledFor/],
])('refuses %s', (_name, value, reason) => {
  expect(reasonOf(value)).toEqual(typeof reason === 'string' ? reason : expect.stringMatching(reason));
});

test('the kind attribute must say what the body says', () => {
  expect(reasonOf(engagementOf('opened', 'm1', 'u1', T), { kind: 'clicked' })).toBe('the kind attribute "clicked" differs from the body\'s kind');
  expect(reasonOf(exposureOf('m1', 'u1', T), { kind: 'opened' })).toBe('the kind attribute "opened" differs from the body\'s kind');
});
