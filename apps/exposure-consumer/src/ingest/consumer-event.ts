/**
 * What the consumer takes off the topic, by kind (libs/types events.ts), and a batch of them split
 * into the tables they go to. The exposure stays the Contract's shape.
 */
import type { EngagementEvent, ExposureEvent, LossEvent, MessageEvent, WebPushEvent } from '@herald/types';

export type ConsumerEvent =
  | { table: 'exposures'; event: ExposureEvent }
  | { table: 'engagements'; event: EngagementEvent }
  | { table: 'losses'; event: LossEvent }
  | { table: 'messages'; event: MessageEvent }
  | { table: 'webpush'; event: WebPushEvent };

export type EventTable = ConsumerEvent['table'];

export const EVENT_TABLES: readonly EventTable[] = ['exposures', 'engagements', 'losses', 'messages', 'webpush'];

/** One write: each kind's events, written in one transaction. */
export interface EventBatch {
  exposures: ExposureEvent[];
  engagements: EngagementEvent[];
  losses: LossEvent[];
  messages: MessageEvent[];
  /** Web Push outcomes (issue 19), into `webpush_outcomes`. */
  webpush: WebPushEvent[];
}

export function emptyBatch(): EventBatch {
  return { exposures: [], engagements: [], losses: [], messages: [], webpush: [] };
}

export function toBatch(events: Iterable<ConsumerEvent>): EventBatch {
  const batch = emptyBatch();
  for (const e of events) (batch[e.table] as Array<typeof e.event>).push(e.event);
  return batch;
}

/** The batch holding only exposures (what the gateways have always published). */
export function exposuresOnly(exposures: readonly ExposureEvent[]): EventBatch {
  return { ...emptyBatch(), exposures: [...exposures] };
}
