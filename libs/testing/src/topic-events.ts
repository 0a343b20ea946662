/**
 * The events a message of the events topic holds, as a test reads them back: one or several
 * (packed, @herald/pubsub event-messages.ts; compressed or not), each parsed, with the message's
 * attributes but for the count of events and the encoding (`kind` stays: it is every one of its events').
 */
import { EVENT_COUNT_ATTRIBUTE, EVENT_ENCODING_ATTRIBUTE, unpackEvents } from '@herald/pubsub';

export interface TopicEvent {
  data: Record<string, unknown>;
  attributes: Record<string, string>;
}

/** Throws when the message is not one of Herald's (lines that do not match `events`, not JSON). */
export function topicEvents(message: { data: Buffer; attributes?: Readonly<Record<string, string>> }): TopicEvent[] {
  const { [EVENT_COUNT_ATTRIBUTE]: _count, [EVENT_ENCODING_ATTRIBUTE]: _encoding, ...attributes } = message.attributes ?? {};
  const unpacked = unpackEvents(message.data, message.attributes ?? {});
  if (!unpacked.ok) throw new Error(`not a message of Herald's events topic: ${unpacked.reason}`);
  return unpacked.events.map((data) => ({ data: JSON.parse(data.toString('utf8')) as Record<string, unknown>, attributes: { ...attributes } }));
}
