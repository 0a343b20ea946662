/**
 * The events ingest publishes for analysts (events/): a message's lifecycle (`sent`, `scheduled`,
 * `updated`, `recalled`) and the ids an offline list's cap dropped, through the Redis outbox and
 * the relay to a real Pub/Sub emulator, read back from a subscription of the topic. Also: entries a
 * relay read and never published (it died) are taken over and published by another.
 */
import { PubSub, type Message as PubSubMessage, type Subscription } from '@google-cloud/pubsub';
import { closeRedis, createRedis, ensureSpillGroup, EVENT_OUTBOX, keys, readSpill, spillExposures } from '@herald/redis';
import { ensureSubscription, topicEvents, pubsubClientOptions, startPubSub, waitFor, type RunningPubSub } from '@herald/testing';
import { perUserEventId } from '@herald/pubsub';
import type { LossEvent, MessageEvent } from '@herald/types';
import { encodeEntry } from '../src/events/event-outbox';
import { bearer, counterValue, sharedIngest } from './harness';

const TOPIC = 'exposures';
let pubsub: RunningPubSub;
let client: PubSub;
let subscription: Subscription;
/** Every event pulled so far, with its `kind` attribute. */
type AnyEvent = Pick<MessageEvent, 'eventId' | 'messageId' | 'at'> & Partial<Omit<MessageEvent, 'kind'>> & Partial<Omit<LossEvent, 'kind'>> & { kind: string };
const received: Array<{ event: AnyEvent; kind: string | undefined }> = [];

// Filled in before the shared ingest starts (its beforeAll runs after this one).
const env: Record<string, string> = {
  EVENTS_RELAY: 'true',
  EVENTS_RELAY_CLAIM_MS: '300',
  EVENTS_RELAY_POLL_MS: '50',
  EXPOSURE_TOPIC: TOPIC,
  INBOX_CAP: '2',
  SCHEDULE_WORKER: 'true',
};
beforeAll(async () => {
  pubsub = await startPubSub();
  env.PUBSUB_EMULATOR_HOST = pubsub.emulatorHost;
  env.PUBSUB_PROJECT_ID = pubsub.projectId;
  client = new PubSub(pubsubClientOptions(pubsub.emulatorHost, pubsub.projectId));
  await ensureSubscription(client, TOPIC, 'events-test', 60);
  subscription = client.subscription('events-test');
  subscription.on('message', (m: PubSubMessage) => {
    for (const { data, attributes } of topicEvents(m)) received.push({ event: data as unknown as AnyEvent, kind: attributes.kind });
    m.ack();
  });
});
const stack = sharedIngest(env);
afterAll(async () => {
  await subscription?.close();
  await client?.close();
  await pubsub?.stop();
});

/** The events about `messageId` once `count` of them have arrived. */
async function eventsOf(messageId: string, count: number) {
  let found: typeof received = [];
  await waitFor(
    () => {
      found = received.filter((r) => r.event.messageId === messageId);
      return found.length >= count;
    },
    { what: `${count} events about ${messageId}` },
  );
  return found;
}

async function send(body: object): Promise<string> {
  const res = await stack.ingest.app.inject({ method: 'POST', url: '/v1/messages', headers: bearer(stack.tokens.messages), payload: body });
  expect(res.statusCode).toBe(202);
  return (res.json() as { id: string }).id;
}

it('a message to users: one sent event with its facts, and a dropped event per id a full offline list pushed out', async () => {
  const old = [await send({ userIds: ['ev-full'], payload: { n: 1 } }), await send({ userIds: ['ev-full'], payload: { n: 2 } })];
  const id = await send({ userIds: ['ev-full', 'ev-b', 'ev-c'], payload: { hello: 'world' }, ttlSeconds: 60, replaceKey: 'greeting' });

  const [sent] = await eventsOf(id, 1);
  expect(sent.kind).toBe('sent');
  const createdAt = Date.parse(sent.event.at);
  expect(sent.event).toEqual({
    eventId: `sent:${id}`,
    kind: 'sent',
    messageId: id,
    at: sent.event.at,
    producer: 'producer-messages',
    category: null,
    recipients: 3,
    size: Buffer.byteLength('{"hello":"world"}'),
    replaced: 0,
    dropped: 1,
    replaceKey: 'greeting',
    expiresAt: new Date(createdAt + 60_000).toISOString(),
  });
  // INBOX_CAP 2: the oldest of ev-full's two pending ids made room, unread.
  const [dropped] = await eventsOf(old[0], 2).then((all) => all.filter((r) => r.kind === 'dropped'));
  expect(dropped.event).toMatchObject({ kind: 'dropped', messageId: old[0], userId: 'ev-full', category: null });
  expect(dropped.event.eventId).toBe(perUserEventId('dropped', old[0], 'ev-full'));
});

it('a category message counts its members as recipients; a batch gives one sent event per message', async () => {
  for (const user of ['ev-m1', 'ev-m2']) {
    const put = await stack.ingest.app.inject({
      method: 'PUT',
      url: `/v1/users/${user}/categories`,
      headers: bearer(stack.tokens.categories),
      payload: { categories: ['ev-news'] },
    });
    expect(put.statusCode).toBe(204);
  }
  const id = await send({ category: 'ev-news', payload: { n: 1 } });
  const [sent] = await eventsOf(id, 1);
  expect(sent.event).toMatchObject({ kind: 'sent', category: 'ev-news', recipients: 2, dropped: 0 });

  const res = await stack.ingest.app.inject({
    method: 'POST',
    url: '/v1/messages/batch',
    headers: bearer(stack.tokens.messages),
    payload: { messages: [{ userIds: ['ev-x'], payload: 1 }, { category: 'ev-news', payload: 2 }] },
  });
  expect(res.statusCode).toBe(200);
  const [a, b] = (res.json() as { results: Array<{ id: string }> }).results.map((r) => r.id);
  expect((await eventsOf(a, 1))[0].event).toMatchObject({ kind: 'sent', recipients: 1, category: null });
  expect((await eventsOf(b, 1))[0].event).toMatchObject({ kind: 'sent', recipients: 2, category: 'ev-news' });
});

it('an update and a recall each give their event; a repeated recall gives the same event id', async () => {
  const id = await send({ userIds: ['ev-u'], payload: { v: 1 } });
  const patch = await stack.ingest.app.inject({ method: 'PATCH', url: `/v1/messages/${id}`, headers: bearer(stack.tokens.messages), payload: { payload: { v: 22 } } });
  expect(patch.statusCode).toBe(200);
  for (let i = 0; i < 2; i++) {
    const del = await stack.ingest.app.inject({ method: 'DELETE', url: `/v1/messages/${id}`, headers: bearer(stack.tokens.messages) });
    expect(del.statusCode).toBe(200);
  }
  const all = await eventsOf(id, 4);
  const byKind = (kind: string) => all.filter((r) => r.kind === kind).map((r) => r.event);
  expect(byKind('updated')).toEqual([expect.objectContaining({ eventId: `updated:${id}:2`, version: 2, size: 8, producer: 'producer-messages' })]);
  expect(byKind('recalled').map((e) => e.eventId)).toEqual([`recalled:${id}`, `recalled:${id}`]);
});

it('a scheduled message: a scheduled event when accepted, a sent event with scheduledFor when its time comes', async () => {
  const sendAt = Date.now() + 1000;
  const id = await send({ userIds: ['ev-s'], payload: 1, sendAt: new Date(sendAt).toISOString() });
  const [scheduled] = await eventsOf(id, 1);
  expect(scheduled.event).toMatchObject({ kind: 'scheduled', scheduledFor: new Date(sendAt).toISOString(), producer: 'producer-messages' });
  const sent = (await eventsOf(id, 2)).find((r) => r.kind === 'sent');
  expect(sent?.event).toMatchObject({ recipients: 1, scheduledFor: new Date(sendAt).toISOString() });
  expect(Date.parse(sent?.event.at ?? '')).toBeGreaterThanOrEqual(sendAt);
});

it('entries a relay read and never published (it died) are taken over and published by another', async () => {
  const lost = { eventId: 'recalled:orphan', kind: 'recalled', messageId: 'orphan-1', at: new Date().toISOString(), producer: 'p', category: null };
  const redis = createRedis(stack.config, 'commands', 'dead-relay');
  try {
    await ensureSpillGroup(redis, EVENT_OUTBOX);
    await spillExposures(redis, [encodeEntry({ kind: 'recalled', json: JSON.stringify(lost) })], { maxEvents: 100, maxAgeMs: 0 }, EVENT_OUTBOX);
    // A relay that reads the entry and dies before publishing it (the live relay may win the race: then it published it).
    await readSpill(redis, 'dead-relay', 10, 60_000, EVENT_OUTBOX);
  } finally {
    await closeRedis(redis);
  }
  const [event] = await eventsOf('orphan-1', 1);
  expect(event).toEqual({ kind: 'recalled', event: lost });
  await waitFor(async () => (await stack.redis.xlen(keys.eventOutbox)) === 0, { what: 'the outbox emptied' });
  const metrics = (await stack.ingest.app.inject({ method: 'GET', url: '/metrics' })).body;
  expect(counterValue(metrics, 'herald_events_relayed_total', 'outcome="published"')).toBeGreaterThanOrEqual(10);
});
