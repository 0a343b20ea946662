/**
 * The `sent` event's JSON, written member by member (src/events/event-outbox.ts sentJson), is
 * what JSON.stringify of the MessageEvent object gives, member order included, for every shape a
 * send makes: to users or a category, with and without a replace key, scheduled or not, with
 * ids dropped, and producers and names that need escaping.
 */
import { randomUUID } from 'node:crypto';
import type { MessageEvent } from '@herald/types';
import { newMessage } from '@herald/redis';
import { sentEvents, type SentFacts, type SentOutcome } from '../src/events/event-outbox';

/** The event as the object it was built as before it was written out, stringified. */
function reference(f: SentFacts, o: SentOutcome): string {
  const event: MessageEvent = {
    eventId: `sent:${f.message.id}`,
    kind: 'sent',
    messageId: f.message.id,
    at: f.message.createdAt,
    producer: f.producer,
    category: f.category,
    recipients: o.recipients,
    size: f.size,
    replaced: o.replaced,
    dropped: o.dropped.length,
    expiresAt: new Date(f.message.expiresAt).toISOString(),
    ...(f.message.replaceKey ? { replaceKey: f.message.replaceKey } : {}),
    ...(f.scheduledFor !== undefined ? { scheduledFor: new Date(f.scheduledFor).toISOString() } : {}),
  };
  return JSON.stringify(event);
}

const producers = ['', 'svc-orders', 'quote " and \\ backslash', 'ünïcödé 📨', 'line\nbreak\ttab\u0001\u2028'];
const categories = [null, 'news', 'caté "gory"'];
const replaceKeys = [undefined, '', 'post-1', 'clé "x"'];
const scheduled = [undefined, 0, Date.UTC(2027, 0, 2, 3, 4, 5, 678)];

it('writes what JSON.stringify of the event object gives, for every shape of send', () => {
  let cases = 0;
  for (const producer of producers) {
    for (const category of categories) {
      for (const replaceKey of replaceKeys) {
        for (const scheduledFor of scheduled) {
          const message = newMessage({ payload: { n: cases }, ttlMs: 3_600_000 + cases, category, replaceKey, createdAt: Date.UTC(2026, 11, 5) + cases });
          const facts: SentFacts = { message, producer, category, size: cases * 7, scheduledFor };
          const outcome: SentOutcome = {
            recipients: cases % 3 === 0 ? 0 : 100_000 + cases,
            replaced: cases % 2,
            dropped: cases % 4 === 0 ? [] : [{ messageId: randomUUID(), userId: `u-${cases}` }],
          };
          const [sent, ...dropped] = sentEvents(facts, outcome);
          expect(sent.kind).toBe('sent');
          expect(sent.json).toBe(reference(facts, outcome));
          expect(dropped.map((d) => d.kind)).toEqual(outcome.dropped.map(() => 'dropped'));
          cases++;
        }
      }
    }
  }
  expect(cases).toBe(producers.length * categories.length * replaceKeys.length * scheduled.length);
});
