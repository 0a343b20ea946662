/**
 * The JSON of the per-user events a gateway publishes besides exposures (libs/types events.ts):
 * an `EngagementEvent` (a client's `event` frame) and a `LossEvent` (`expired`, found at a drain).
 * As in event-json.ts, one writer per member in a table checked against the type, so a member
 * added to either type does not compile until it has a writer here; test/user-event-json.spec.ts
 * checks that the output holds exactly the type's members.
 *
 * `kind` is always written first: the publish pump reads it from the front of the JSON for the
 * Pub/Sub attribute `kind` (publish-pump.ts, kindOf), because the write-ahead log and the spill
 * keep only the JSON.
 */
import type { EngagementEvent, LossEvent } from '@herald/types';

type Writers<T> = { readonly [K in keyof T]-?: (members: T) => string };

const quoted = (value: string | null): string => JSON.stringify(value);

const ENGAGEMENT_WRITERS = {
  // A kind of the closed list, a UUID and an ISO-8601 time never need escaping.
  kind: (e) => `"kind":"${e.kind}"`,
  eventId: (e) => `"eventId":"${e.eventId}"`,
  messageId: (e) => `"messageId":${quoted(e.messageId)}`,
  userId: (e) => `"userId":${quoted(e.userId)}`,
  category: (e) => `"category":${quoted(e.category)}`,
  sessionId: (e) => `"sessionId":${quoted(e.sessionId)}`,
  gatewayId: (e) => `"gatewayId":${quoted(e.gatewayId)}`,
  at: (e) => `"at":"${e.at}"`,
  action: (e) => (e.action === undefined ? '' : `,"action":${quoted(e.action)}`),
} as const satisfies Writers<EngagementEvent>;

const LOSS_WRITERS = {
  kind: (e) => `"kind":"${e.kind}"`,
  eventId: (e) => `"eventId":"${e.eventId}"`,
  messageId: (e) => `"messageId":${quoted(e.messageId)}`,
  userId: (e) => `"userId":${quoted(e.userId)}`,
  category: (e) => `"category":${quoted(e.category)}`,
  at: (e) => `"at":"${e.at}"`,
} as const satisfies Writers<LossEvent>;

/** The members each table writes (for the test that every one is written). */
export const ENGAGEMENT_MEMBERS = Object.keys(ENGAGEMENT_WRITERS) as ReadonlyArray<keyof EngagementEvent>;
export const LOSS_MEMBERS = Object.keys(LOSS_WRITERS) as ReadonlyArray<keyof LossEvent>;

export function engagementJson(e: EngagementEvent): string {
  const w = ENGAGEMENT_WRITERS;
  return (
    `{${w.kind(e)},${w.eventId(e)},${w.messageId(e)},${w.userId(e)},${w.category(e)},` +
    `${w.sessionId(e)},${w.gatewayId(e)},${w.at(e)}${w.action(e)}}`
  );
}

export function lossJson(e: LossEvent): string {
  const w = LOSS_WRITERS;
  return `{${w.kind(e)},${w.eventId(e)},${w.messageId(e)},${w.userId(e)},${w.category(e)},${w.at(e)}}`;
}

const KIND_PREFIX = '{"kind":"';

/**
 * The `kind` of a serialized event, read from its front (the writers above put it first); undefined
 * for an exposure, which has none (the Contract's shape: `delivered`).
 */
export function kindOf(data: string): string | undefined {
  if (!data.startsWith(KIND_PREFIX)) return undefined;
  const end = data.indexOf('"', KIND_PREFIX.length);
  return end > KIND_PREFIX.length ? data.slice(KIND_PREFIX.length, end) : undefined;
}
