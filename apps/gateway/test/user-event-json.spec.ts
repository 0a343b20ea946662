/**
 * The per-user events' JSON is their type exactly (every member, nothing else, strings escaped),
 * with `kind` first, where the publish pump reads it for the Pub/Sub attribute.
 */
import type { EngagementEvent, LossEvent } from '@herald/types';
import { perUserEventId } from '@herald/pubsub';
import { ENGAGEMENT_MEMBERS, engagementJson, kindOf, LOSS_MEMBERS, lossJson } from '../src/exposure/user-event-json';
import { exposureJson, sessionJson } from '../src/exposure/event-json';

const engagement: Required<EngagementEvent> = {
  kind: 'clicked',
  eventId: perUserEventId('clicked', 'm-1', 'u"1'),
  messageId: 'm-1',
  userId: 'u"1',
  category: 'news',
  sessionId: 's-1',
  gatewayId: 'gw\\1',
  at: new Date().toISOString(),
  action: 'read-more',
};

const loss: Required<LossEvent> = {
  kind: 'expired',
  eventId: perUserEventId('expired', 'm-2', 'u-2'),
  messageId: 'm-2',
  userId: 'u-2',
  category: null,
  at: new Date().toISOString(),
};

it('writes exactly the members of EngagementEvent, action only when given', () => {
  const json = engagementJson(engagement);
  expect(JSON.parse(json)).toEqual(engagement);
  expect([...ENGAGEMENT_MEMBERS].sort()).toEqual(Object.keys(engagement).sort());
  const { action: _action, ...opened } = { ...engagement, kind: 'opened' as const };
  expect(JSON.parse(engagementJson(opened))).toEqual(opened);
});

it('writes exactly the members of LossEvent', () => {
  expect(JSON.parse(lossJson(loss))).toEqual(loss);
  expect([...LOSS_MEMBERS].sort()).toEqual(Object.keys(loss).sort());
});

it('puts kind first, so the pump reads it without parsing; an exposure has none', () => {
  expect(kindOf(engagementJson(engagement))).toBe('clicked');
  expect(kindOf(lossJson(loss))).toBe('expired');
  const exposure = exposureJson(
    { eventId: loss.eventId, messageId: 'm', category: null, deliveredAt: loss.at, via: 'live' },
    sessionJson({ userId: 'u', sessionId: 's', gatewayId: 'g' }),
  );
  expect(kindOf(exposure)).toBeUndefined();
});
