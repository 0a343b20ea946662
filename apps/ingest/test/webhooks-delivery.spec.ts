/**
 * Webhook delivery end to end on real parts: a private redis-server, the Pub/Sub emulator, an
 * ingest with the dispatcher and worker on (short batch window, retry backoff and retry period),
 * and real HTTP receivers on 127.0.0.1 (allow-listed). Events are published to the topic in the
 * shapes of events.ts, as the gateways and ingest publish them.
 *
 * Time scales (docs/WEBHOOKS.md): the "fails for 2 minutes then recovers" runs here as a
 * receiver failing for 1.5 s with a retry period of 4 s and backoffs of 100 ms doubling to 400 ms.
 * With HERALD_WEBHOOK_REAL_TIME=1 it runs at full scale: failing for 2 minutes under the production
 * retry schedule (5 s doubling, 24 h): about 3 minutes, so by hand, one test:
 *   HERALD_WEBHOOK_REAL_TIME=1 npx jest -c apps/ingest/jest.config.js webhooks-delivery -t 'fails for a while'
 */
import { randomUUID } from 'node:crypto';
import { PubSub } from '@google-cloud/pubsub';
import { Registry } from 'prom-client';
import { createLogger } from '@herald/logger';
import { EVENT_COUNT_ATTRIBUTE, EVENT_ENCODING_ATTRIBUTE, packEvents } from '@herald/pubsub';
import { readWebhookDeadLetters, createRedis, closeRedis, type HeraldRedis } from '@herald/redis';
import { freePort, pubsubClientOptions, signToken, startPubSub, startRedisServer, waitFor, type RedisServer, type RunningPubSub } from '@herald/testing';
import { EVENT_KIND_ATTRIBUTE, Scope, type EngagementEvent, type ExposureEvent, type MessageEvent } from '@herald/types';
import type { Ingest } from '../src/app';
import { createIngestMetrics } from '../src/metrics';
import { startWebhooks } from '../src/webhooks/webhooks';
import { bearer, counterValue, ingestConfig, startIngest } from './harness';
import { startReceiver, type Receiver } from './support/webhook-receiver';

jest.setTimeout(60_000);

const TOPIC = `exposures-${randomUUID().slice(0, 8)}`;
const BATCH_MAX = 3;
const REAL_TIME = process.env.HERALD_WEBHOOK_REAL_TIME === '1';
const RETRY_PERIOD_MS = REAL_TIME ? 86_400_000 : 4000;
const FAILING_FOR_MS = REAL_TIME ? 120_000 : 1500;

let redisServer: RedisServer;
let pubsub: RunningPubSub;
let publisher: PubSub;
let ingest: Ingest;
let reader: HeraldRedis;
let operator: string;
/** The file's ingest's environment (a test may start more webhook machinery from it). */
let ingestEnv: Record<string, string>;
const receivers: Receiver[] = [];
/** One per receiver the tests start (the allow-list is fixed at start); more receivers than ports fail at once. */
const ports: number[] = [];
const RECEIVERS = 9;

beforeAll(async () => {
  [redisServer, pubsub] = await Promise.all([startRedisServer(), startPubSub()]);
  for (let i = 0; i < RECEIVERS; i++) ports.push(await freePort());
  ingestEnv = {
    PUBSUB_EMULATOR_HOST: pubsub.emulatorHost,
    PUBSUB_PROJECT_ID: pubsub.projectId,
    EXPOSURE_TOPIC: TOPIC,
    WEBHOOK_DISPATCHER: 'true',
    WEBHOOK_BATCH_MAX: String(BATCH_MAX),
    WEBHOOK_BATCH_WINDOW_MS: '300',
    WEBHOOK_REFRESH_MS: '50',
    WEBHOOK_CONCURRENCY: '3',
    WEBHOOK_ENDPOINT_CONCURRENCY: '2',
    WEBHOOK_RETRY_INITIAL_MS: REAL_TIME ? '5000' : '100',
    WEBHOOK_RETRY_MAX_DELAY_MS: REAL_TIME ? '3600000' : '400',
    WEBHOOK_RETRY_PERIOD_MS: String(RETRY_PERIOD_MS),
    WEBHOOK_ALLOWED_HOSTS: ports.map((p) => `127.0.0.1:${p}`).join(','),
  };
  const config = ingestConfig(redisServer.url, ingestEnv);
  ingest = await startIngest(config);
  reader = createRedis(config, 'commands', 'webhooks-delivery-test');
  publisher = new PubSub(pubsubClientOptions(pubsub.emulatorHost, pubsub.projectId));
  operator = await signToken('operator', { scope: Scope.WEBHOOKS_WRITE });
});

afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await ingest?.close();
  await publisher?.close();
  if (reader) await closeRedis(reader);
  await Promise.all([redisServer?.stop(), pubsub?.stop()]);
});

async function receiver(answer?: Parameters<typeof startReceiver>[1]): Promise<Receiver> {
  if (receivers.length === ports.length) throw new Error(`more than ${RECEIVERS} receivers: raise RECEIVERS`);
  const r = await startReceiver(ports[receivers.length], answer);
  receivers.push(r);
  return r;
}

/** Registers an endpoint for `r`, keeps its secret on the receiver, and waits until the dispatcher knows it. */
async function register(r: Receiver, body: { kinds: string[]; category?: string }): Promise<string> {
  const res = await ingest.app.inject({ method: 'POST', url: '/v1/webhooks', headers: bearer(operator), payload: { url: r.url(), ...body } });
  expect(res.statusCode).toBe(201);
  const { id, secret } = res.json() as { id: string; secret: string };
  r.secret = secret;
  await waitFor(() => ingest.webhooks!.dispatcher.known.some((e) => e.id === id), { what: 'the dispatcher to know the endpoint' });
  return id;
}

async function unregister(id: string): Promise<void> {
  await ingest.app.inject({ method: 'DELETE', url: `/v1/webhooks/${id}`, headers: bearer(operator) });
  await waitFor(() => !ingest.webhooks!.dispatcher.known.some((e) => e.id === id), { what: 'the dispatcher to forget the endpoint' });
}

const at = () => new Date().toISOString();

function delivered(category: string | null): ExposureEvent {
  return { eventId: randomUUID(), messageId: randomUUID(), userId: 'u1', category, sessionId: 's1', gatewayId: 'gw1', deliveredAt: at(), via: 'live' };
}
function engagement(kind: EngagementEvent['kind'], category: string | null): EngagementEvent {
  return { eventId: randomUUID(), kind, messageId: randomUUID(), userId: 'u1', category, sessionId: 's1', gatewayId: 'gw1', at: at() };
}
function sent(category: string | null = null): MessageEvent {
  const messageId = randomUUID();
  return { eventId: `sent:${messageId}`, kind: 'sent', messageId, at: at(), producer: 'p1', category, recipients: 3 };
}

/**
 * Publishes as the apps do: packed by kind (@herald/pubsub packEvents; one event alone is a message
 * of its own), the kind as an attribute (none on exposures), compressed past COMPRESS_MIN_BYTES
 * (EVENTS_PUBSUB_COMPRESSION=deflate, so that the dispatcher reads both forms).
 */
async function publish(events: Array<{ eventId: string; kind?: string }>, perMessage = 100, topicName = TOPIC): Promise<void> {
  const topic = publisher.topic(topicName);
  const messages = packEvents(events.map((e) => ({ data: JSON.stringify(e), kind: e.kind })), perMessage, 'deflate');
  await Promise.all(messages.map((m) => topic.publishMessage({ data: Buffer.from(m.data), attributes: m.attributes })));
}

/** The event ids of the requests a receiver accepted (2xx). */
function acceptedEventIds(r: Receiver): string[] {
  return r.received.filter((q) => q.answered === 200).flatMap((q) => q.body.data.events.map((e) => e.eventId));
}

async function metric(outcome: string, name = 'herald_webhook_batches_total'): Promise<number> {
  const text = (await ingest.app.inject({ method: 'GET', url: '/metrics' })).body;
  return counterValue(text, name, `outcome="${outcome}"`);
}

const eventMetric = (outcome: string) => metric(outcome, 'herald_webhook_events_total');

it('posts the matching events, filtered by kind and category, batched, each request signed', async () => {
  const r = await receiver();
  const id = await register(r, { kinds: ['opened', 'clicked', 'delivered'], category: 'news' });
  const wanted = [engagement('opened', 'news'), engagement('clicked', 'news'), delivered('news'), engagement('opened', 'news'), engagement('clicked', 'news')];
  const others = [engagement('opened', 'sports'), engagement('dismissed', 'news'), delivered(null), sent('news'), engagement('clicked', null)];
  const unmatchedBefore = await eventMetric('unmatched');
  await publish([...wanted, ...others]);
  await waitFor(() => acceptedEventIds(r).length >= wanted.length, { what: 'the matching events' });
  // Every other event was pulled and matched no endpoint (none can come later).
  await waitFor(async () => (await eventMetric('unmatched')) - unmatchedBefore === others.length, { what: 'the others unmatched' });
  await waitFor(() => r.open() === 0, { what: 'no request in flight' });
  expect(acceptedEventIds(r).sort()).toEqual(wanted.map((e) => e.eventId).sort());
  for (const q of r.received) {
    expect(q.verified).toBe(true);
    expect(q.webhookId).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(q.body).toMatchObject({ type: 'herald.events', timestamp: expect.stringMatching(/Z$/) });
    expect(q.body.data.events.length).toBeLessThanOrEqual(BATCH_MAX);
  }
  // Batched: fewer requests than events.
  expect(r.received.length).toBeLessThan(wanted.length);
  // An exposure, which has no kind on the topic, arrives with kind "delivered"; the shapes are kept.
  const exposure = r.received.flatMap((q) => q.body.data.events).find((e) => e.eventId === wanted[2].eventId);
  expect(exposure).toEqual({ ...wanted[2], kind: 'delivered' });
  await unregister(id);
});

it('a message of several events: each is routed on its own, a line that is no event counted invalid and left out', async () => {
  const r = await receiver();
  const id = await register(r, { kinds: ['opened'], category: 'news' });
  const wanted = [engagement('opened', 'news'), engagement('opened', 'news')];
  const invalidBefore = await eventMetric('invalid');
  const lines = [JSON.stringify(wanted[0]), 'not json', JSON.stringify(engagement('opened', 'sports')), JSON.stringify(wanted[1])];
  await publisher.topic(TOPIC).publishMessage({ data: Buffer.from(lines.join('\n')), attributes: { [EVENT_KIND_ATTRIBUTE]: 'opened', [EVENT_COUNT_ATTRIBUTE]: '4' } });
  await waitFor(() => acceptedEventIds(r).length >= wanted.length, { what: 'the two matching events' });
  await waitFor(() => r.open() === 0, { what: 'no request in flight' });
  expect(acceptedEventIds(r).sort()).toEqual(wanted.map((e) => e.eventId).sort());
  expect((await eventMetric('invalid')) - invalidBefore).toBe(1);
  await unregister(id);
});

it('a compressed message (attribute encoding) is inflated and each of its events routed; one that is not raw DEFLATE is counted invalid whole', async () => {
  const r = await receiver();
  const id = await register(r, { kinds: ['opened'], category: 'deflated' });
  const wanted = Array.from({ length: 60 }, () => engagement('opened', 'deflated'));
  const [message] = packEvents(wanted.map((e) => ({ data: JSON.stringify(e), kind: e.kind })), 100, 'deflate');
  expect(message.attributes).toEqual({ [EVENT_COUNT_ATTRIBUTE]: '60', [EVENT_KIND_ATTRIBUTE]: 'opened', [EVENT_ENCODING_ATTRIBUTE]: 'deflate' });
  const invalidBefore = await eventMetric('invalid');
  const plain = Buffer.from([engagement('opened', 'deflated'), engagement('opened', 'deflated')].map((e) => JSON.stringify(e)).join('\n'));
  await publisher.topic(TOPIC).publishMessage({ data: plain, attributes: { [EVENT_KIND_ATTRIBUTE]: 'opened', [EVENT_COUNT_ATTRIBUTE]: '2', [EVENT_ENCODING_ATTRIBUTE]: 'deflate' } });
  await publisher.topic(TOPIC).publishMessage({ data: Buffer.from(message.data), attributes: message.attributes });
  await waitFor(() => acceptedEventIds(r).length >= wanted.length, { what: 'the 60 events of the compressed message' });
  await waitFor(async () => (await eventMetric('invalid')) - invalidBefore === 1, { what: 'the message that is not raw DEFLATE counted' });
  await waitFor(() => r.open() === 0, { what: 'no request in flight' });
  expect(acceptedEventIds(r).sort()).toEqual(wanted.map((e) => e.eventId).sort());
  await unregister(id);
});

it('a receiver that fails for a while then recovers gets every event, once per webhook-id, with valid signatures', async () => {
  let firstAt: number | undefined;
  const r = await receiver(() => {
    firstAt ??= Date.now();
    return Date.now() - firstAt < FAILING_FOR_MS ? 500 : 200;
  });
  const id = await register(r, { kinds: ['sent'] });
  const retriedBefore = await metric('retried');
  const events = Array.from({ length: 7 }, () => sent());
  await publish(events);
  await waitFor(() => acceptedEventIds(r).length >= events.length, { what: 'every event accepted', timeoutMs: REAL_TIME ? 400_000 : 20_000 });
  await waitFor(() => r.open() === 0, { what: 'no request in flight' });
  expect(acceptedEventIds(r).sort()).toEqual(events.map((e) => e.eventId).sort());
  // Once per webhook-id: no batch was accepted twice, and a retry is the same batch under the same id.
  const accepted = r.received.filter((q) => q.answered === 200).map((q) => q.webhookId);
  expect(new Set(accepted).size).toBe(accepted.length);
  const byId = new Map<string, string>();
  for (const q of r.received) {
    expect(q.verified).toBe(true);
    const ids = q.body.data.events.map((e) => e.eventId).join(',');
    expect(byId.get(q.webhookId) ?? ids).toBe(ids);
    byId.set(q.webhookId, ids);
  }
  expect(r.received.some((q) => q.answered === 500)).toBe(true);
  expect(await metric('retried')).toBeGreaterThan(retriedBefore);
  // The endpoint stayed active; GET shows the last failure.
  const [shown] = (await ingest.app.inject({ method: 'GET', url: '/v1/webhooks', headers: bearer(operator) })).json().webhooks.filter((w: { id: string }) => w.id === id);
  expect(shown).toMatchObject({ state: 'active', lastFailure: 'answered 500: not now', deadLetters: 0 });
  await unregister(id);
}, REAL_TIME ? 420_000 : 60_000);

it('an endpoint that always fails is disabled after the retry period, its batch dead-lettered, and GET shows why', async () => {
  const r = await receiver(() => 503);
  const id = await register(r, { kinds: ['sent'], category: 'alerts' });
  const event = sent('alerts');
  await publish([event]);
  const list = async () =>
    (await ingest.app.inject({ method: 'GET', url: '/v1/webhooks', headers: bearer(operator) })).json().webhooks.find((w: { id: string }) => w.id === id);
  const shown = await waitFor(async () => {
    const w = await list();
    return w?.state === 'disabled' ? w : undefined;
  }, { what: 'the endpoint disabled', timeoutMs: RETRY_PERIOD_MS + 10_000 });
  expect(shown).toMatchObject({ state: 'disabled', disabledAt: expect.any(String), lastFailure: 'answered 503: not now', deadLetters: 1 });
  expect(shown.disabledReason).toMatch(/^failing for \d+ s; last: answered 503: not now$/);
  expect(r.received.length).toBeGreaterThan(1);
  const [letter] = (await readWebhookDeadLetters(reader, id)).map((l) => JSON.parse(l));
  expect(letter).toMatchObject({ webhookId: r.received[0].webhookId, events: [{ ...event }] });
  // Disabled: the dispatcher stops matching it.
  await waitFor(() => !ingest.webhooks!.dispatcher.known.some((e) => e.id === id), { what: 'the dispatcher to drop the disabled endpoint' });
  await unregister(id).catch(() => undefined);
});

it('a hanging endpoint holds at most WEBHOOK_ENDPOINT_CONCURRENCY requests and never delays another endpoint', async () => {
  const hanging = await receiver(() => 'hang');
  const fast = await receiver();
  const hangingId = await register(hanging, { kinds: ['clicked'], category: 'slow' });
  const fastId = await register(fast, { kinds: ['clicked'], category: 'quick' });
  const slowEvents = Array.from({ length: 9 }, () => engagement('clicked', 'slow'));
  const quickEvents = Array.from({ length: 9 }, () => engagement('clicked', 'quick'));
  await publish(slowEvents);
  await waitFor(() => hanging.open() === 2, { what: 'the hanging endpoint to hold two requests' });
  await publish(quickEvents);
  await waitFor(() => acceptedEventIds(fast).length === quickEvents.length, { what: 'the fast endpoint to get everything' });
  // All while the hanging endpoint still held its requests, never more than its bound.
  expect(hanging.open()).toBe(2);
  expect(hanging.maxOpen()).toBe(2);
  expect(fast.received.every((q) => q.verified)).toBe(true);
  hanging.release();
  await waitFor(() => acceptedEventIds(hanging).length === slowEvents.length, { what: 'the released endpoint to get the rest' });
  await unregister(hangingId);
  await unregister(fastId);
});

it('opens the pull again, making the subscription again, when it is deleted under the dispatcher', async () => {
  const r = await receiver();
  const id = await register(r, { kinds: ['recalled'] });
  const subscription = publisher.subscription('webhooks');
  await subscription.delete();
  await waitFor(async () => (await subscription.exists())[0], { what: 'the dispatcher to make the subscription again', timeoutMs: 15_000 });
  const messageId = randomUUID();
  const recalled: MessageEvent = { eventId: `recalled:${messageId}`, kind: 'recalled', messageId, at: at(), producer: 'p1', category: null };
  await publish([recalled]);
  await waitFor(() => acceptedEventIds(r).includes(recalled.eventId), { what: 'the event after the reopen', timeoutMs: 15_000 });
  await unregister(id);
});

it('flow control counts events: with queueing stalled, messages of 4 events are handed out while fewer than WEBHOOK_MAX_OUTSTANDING events are held', async () => {
  const r = await receiver();
  const id = await register(r, { kinds: ['dismissed'] });
  // Webhook machinery of its own, as ingest builds it, with a bound of 10 on a topic of its own.
  const topicName = `${TOPIC}-bounded`;
  const config = ingestConfig(redisServer.url, {
    ...ingestEnv,
    EXPOSURE_TOPIC: topicName,
    WEBHOOK_SUBSCRIPTION: `${topicName}-webhooks`,
    WEBHOOK_MAX_OUTSTANDING: '10',
    WEBHOOK_BATCH_MAX: '100',
    WEBHOOK_BATCH_WINDOW_MS: '20',
    WEBHOOK_REFRESH_MS: '60000',
  });
  const registry = new Registry();
  const webhooks = await startWebhooks(config, reader, createIngestMetrics(registry), createLogger({ app: 'ingest-test', level: 'silent' }));
  const { dispatcher } = webhooks;
  const routed = async () => counterValue(await registry.metrics(), 'herald_webhook_events_total', 'outcome="matched"');
  try {
    // Redis takes no script (a BullMQ add) until unpaused: no batch is queued, so no message is settled.
    await reader.client('PAUSE', 60_000, 'WRITE');
    const events = Array.from({ length: 40 }, () => engagement('dismissed', null));
    await publish(events, 4, topicName);
    // All ten messages pulled: handed out while less than 10 events were held (0, 4, 8), the rest waiting.
    await waitFor(() => dispatcher.outstanding === 10, { what: 'the ten messages pulled' });
    expect(await routed()).toBe(12);
    await reader.client('UNPAUSE');
    await waitFor(() => acceptedEventIds(r).length >= events.length, { what: 'every event posted once queueing goes on' });
    expect(acceptedEventIds(r).sort()).toEqual(events.map((e) => e.eventId).sort());
    expect(await routed()).toBe(40);
  } finally {
    await reader.client('UNPAUSE');
    await webhooks.close();
    await unregister(id);
  }
});
