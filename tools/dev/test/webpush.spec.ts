/**
 * Web Push end to end (issue 19), against real processes: a private Redis, the Pub/Sub emulator, a
 * gateway and ingest as child processes started with NODE_EXTRA_CA_CERTS (Node reads it only at
 * start), and a push service standing in on 127.0.0.1 with a self-signed certificate
 * (support/push-service.ts). The test holds the subscriptions' keys: it decrypts each push
 * (aes128gcm) and checks its VAPID JWT. One stack for the file; short backoffs and timeouts.
 */
import Redis from 'ioredis';
import { Queue } from 'bullmq';
import { generateVAPIDKeys } from 'web-push';
import { compareEntryIds, keys, pushSubscriptionId, queues, SPILL_FIELD } from '@herald/redis';
import { fetchMetric, signToken, startTestStack, TestClient, waitFor, type Stack } from '@herald/testing';
import { Scope, type WebPushEvent } from '@herald/types';
import { decryptPush, newSubscription, startPushService, verifyVapid, type BrowserSubscription, type PushService } from './support/push-service';

const ATTEMPTS = 3;
const MAX_SUBSCRIPTIONS = 3;
const SUBJECT = 'mailto:ops@example.com';

let stack: Stack;
let push: PushService;
let redis: Redis;
let queue: Queue;
let queueConnection: Redis;
let producer: string;
const vapid = generateVAPIDKeys();

beforeAll(async () => {
  push = await startPushService();
  ({ stack } = await startTestStack(
    {
      EXPOSURE_TOPIC: 'exposures-webpush',
      NODE_EXTRA_CA_CERTS: push.caFile,
      WEBPUSH_VAPID_PUBLIC_KEY: vapid.publicKey,
      WEBPUSH_VAPID_PRIVATE_KEY: vapid.privateKey,
      WEBPUSH_SUBJECT: SUBJECT,
      WEBPUSH_ALLOWED_HOSTS: push.hostPort,
      WEBPUSH_MAX_SUBSCRIPTIONS: String(MAX_SUBSCRIPTIONS),
      WEBPUSH_ATTEMPTS: String(ATTEMPTS),
      WEBPUSH_BACKOFF_MS: '50',
      WEBPUSH_TIMEOUT_MS: '300',
      // Events stay in the outbox, where the test reads them.
      EVENTS_RELAY: 'false',
    },
    { withoutConsumer: true },
  ));
  redis = new Redis(stack.redis!.url);
  queueConnection = new Redis(stack.redis!.url, { maxRetriesPerRequest: null });
  queue = new Queue(queues.webpush, { connection: queueConnection, prefix: keys.queuePrefix });
  producer = await signToken('webpush-producer', { scope: Scope.MESSAGES_WRITE });
}, 120_000);

afterAll(async () => {
  await queue?.close();
  queueConnection?.disconnect();
  redis?.disconnect();
  await stack?.stop();
  await push?.close();
}, 60_000);

let seq = 0;
const newUser = (label: string) => `wp-${label}-${process.pid}-${++seq}`;
const endpoint = (name: string) => `${push.origin}/push/${name}-${process.pid}-${++seq}`;
const gateway = () => stack.apps.gateway.url;

async function register(userId: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${gateway()}/v1/push-subscriptions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await signToken(userId)}`, 'content-type': 'application/json', 'user-agent': 'test-browser/1' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function subscribe(userId: string, name: string): Promise<BrowserSubscription> {
  const sub = newSubscription(endpoint(name));
  const { status, json } = await register(userId, sub.json);
  expect({ status, json }).toEqual({ status: 201, json: { id: pushSubscriptionId(sub.json.endpoint) } });
  return sub;
}

async function send(body: Record<string, unknown>): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${stack.apps.ingest.url}/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${producer}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const pathOf = (sub: BrowserSubscription) => new URL(sub.json.endpoint).pathname;
const jobs = (outcome: string) => fetchMetric(stack.apps.ingest.adminUrl, 'herald_webpush_jobs_total', `outcome="${outcome}"`);

/** The `webpush` events in the outbox for `messageId`. */
async function webPushEvents(messageId: string): Promise<WebPushEvent[]> {
  const entries = await redis.xrange(keys.eventOutbox, '-', '+');
  return entries
    .map(([, fields]) => fields[fields.indexOf(SPILL_FIELD) + 1])
    .filter((e) => e.startsWith('webpush '))
    .map((e) => JSON.parse(e.slice('webpush '.length)) as WebPushEvent)
    .filter((e) => e.messageId === messageId);
}

const untilEvents = (messageId: string, n: number) =>
  waitFor(async () => ((await webPushEvents(messageId)).length >= n ? webPushEvents(messageId) : undefined), { timeoutMs: 15_000, what: `${n} webpush events` });

describe('registration (gateway)', () => {
  it('serves the VAPID public key, saves a subscription once per endpoint, deletes it', async () => {
    const key = await fetch(`${gateway()}/v1/push-subscriptions/vapid-public-key`);
    expect(await key.json()).toEqual({ publicKey: vapid.publicKey });

    const user = newUser('reg');
    const sub = await subscribe(user, 'reg');
    const id = pushSubscriptionId(sub.json.endpoint);
    // The same endpoint again (a renewal) replaces it: still one.
    expect(await register(user, sub.json)).toEqual({ status: 201, json: { id } });
    expect(await redis.hlen(keys.pushSubscriptions(user))).toBe(1);
    const stored = JSON.parse((await redis.hget(keys.pushSubscriptions(user), id))!) as Record<string, unknown>;
    expect(stored).toEqual({ endpoint: sub.json.endpoint, keys: sub.json.keys, userAgent: 'test-browser/1', createdAt: expect.any(String) });

    const del = (token: string) => fetch(`${gateway()}/v1/push-subscriptions/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    // Another user cannot delete it.
    expect((await del(await signToken(newUser('other')))).status).toBe(404);
    expect((await del(await signToken(user))).status).toBe(204);
    expect(await redis.hexists(keys.pushSubscriptions(user), id)).toBe(0);
    expect((await del(await signToken(user))).status).toBe(404);
  });

  it('refuses bad subscriptions with 4xx and a code, writing nothing', async () => {
    const user = newUser('refused');
    const good = newSubscription(endpoint('good')).json;
    const code = async (body: unknown) => {
      const { status, json } = await register(user, body);
      return `${status} ${(json.error as { code: string }).code}`;
    };
    expect(await code({ ...good, endpoint: 'not a url' })).toBe('400 PUSH_ENDPOINT_REFUSED');
    expect(await code({ ...good, endpoint: 'https://10.1.2.3/push/x' })).toBe('400 PUSH_ENDPOINT_REFUSED');
    expect(await code({ ...good, endpoint: 'https://127.0.0.1:1/push/x' })).toBe('400 PUSH_ENDPOINT_REFUSED');
    expect(await code({ ...good, endpoint: 'http://push.example.com/x' })).toBe('400 PUSH_ENDPOINT_REFUSED');
    expect(await code({ ...good, endpoint: `https://push.example.com/${'x'.repeat(2100)}` })).toBe('400 PUSH_ENDPOINT_REFUSED');
    // 65 bytes starting with 4, but not a point on the curve.
    expect(await code({ ...good, keys: { ...good.keys, p256dh: Buffer.alloc(65, 4).toString('base64url') } })).toBe('400 INVALID_PUSH_SUBSCRIPTION');
    expect(await code({ ...good, keys: { ...good.keys, auth: Buffer.alloc(10).toString('base64url') } })).toBe('400 INVALID_PUSH_SUBSCRIPTION');
    expect(await code({ endpoint: good.endpoint })).toBe('400 INVALID_PUSH_SUBSCRIPTION');
    expect(await redis.exists(keys.pushSubscriptions(user))).toBe(0);

    const anonymous = await fetch(`${gateway()}/v1/push-subscriptions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(good) });
    expect(anonymous.status).toBe(401);

    for (let i = 0; i < MAX_SUBSCRIPTIONS; i++) await subscribe(user, `many${i}`);
    expect(await code(newSubscription(endpoint('one-too-many')).json)).toBe('409 PUSH_SUBSCRIPTIONS_LIMIT');
    expect(await redis.hlen(keys.pushSubscriptions(user))).toBe(MAX_SUBSCRIPTIONS);
  });

  it('ingest refuses a notification past its limits', async () => {
    const refused = await send({ userIds: [newUser('x')], payload: 1, notification: { title: 't'.repeat(121), body: '' } });
    expect(refused).toEqual({ status: 400, json: { error: { code: 'INVALID_NOTIFICATION', message: expect.any(String) } } });
    const big = await send({ userIds: [newUser('x')], payload: 1, notification: { title: 't', body: '\u0001'.repeat(1000), url: '\u0001'.repeat(1000) } });
    expect(big.json).toEqual({ error: { code: 'INVALID_NOTIFICATION', message: expect.stringContaining('3993') } });
  });
});

describe('sending (ingest)', () => {
  it('an offline user gets one push per subscription: encrypted notification, VAPID, TTL, Urgency, Topic', async () => {
    const user = newUser('offline');
    const subs = [await subscribe(user, 'a'), await subscribe(user, 'b')];
    const notification = { title: 'Hello', body: 'You have a message', url: 'https://app.example.com/m/1', tag: 'm' };
    const { status, json } = await send({ userIds: [user], payload: { n: 1 }, ttlSeconds: 600, replaceKey: 'post-1', notification, urgency: 'high' });
    expect(status).toBe(202);
    const events = await untilEvents(json.id as string, 2);
    expect(events.map((e) => [e.subscriptionId, e.status, e.httpStatus]).sort()).toEqual(
      subs.map((s) => [pushSubscriptionId(s.json.endpoint), 'sent', 201]).sort(),
    );
    for (const sub of subs) {
      const got = push.requestsTo(pathOf(sub));
      expect(got).toHaveLength(1);
      expect(decryptPush(got[0], sub)).toEqual({ messageId: json.id, notification });
      const claims = await verifyVapid(got[0], vapid.publicKey);
      expect(claims).toMatchObject({ aud: push.origin, sub: SUBJECT });
      const ttl = Number(got[0].headers.ttl);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(600);
      expect(got[0].headers.urgency).toBe('high');
      expect(got[0].headers.topic).toMatch(/^[A-Za-z0-9_-]{32}$/);
    }
  }, 30_000);

  it('an online user gets no push; its message comes over the WebSocket', async () => {
    const user = newUser('online');
    const sub = await subscribe(user, 'online');
    const client = await TestClient.connect(`${gateway().replace(/^http/, 'ws')}/ws`, await signToken(user));
    await client.waitForFrame('welcome');
    const queued = await jobs('queued');
    const { json } = await send({ userIds: [user], payload: 'live', notification: { title: 'Hi', body: '' } });
    // The jobs are queued before the answer: none was for this user.
    expect(await jobs('queued')).toBe(queued);
    const [message] = await client.waitForMessages(1);
    expect(message.id).toBe(json.id);
    expect(push.requestsTo(pathOf(sub))).toHaveLength(0);
    await client.close();
  });

  it('a user who connects while the job waits gets no push', async () => {
    const user = newUser('comes-back');
    const sub = await subscribe(user, 'comes-back');
    const skipped = await jobs('skipped_online');
    await queue.pause();
    try {
      const queued = await jobs('queued');
      const { json } = await send({ userIds: [user], payload: 'later', notification: { title: 'Hi', body: '' } });
      expect(await jobs('queued')).toBe(queued + 1);
      const client = await TestClient.connect(`${gateway().replace(/^http/, 'ws')}/ws`, await signToken(user));
      await client.waitForFrame('welcome');
      expect((await client.waitForMessages(1))[0].id).toBe(json.id);
      await queue.resume();
      await waitFor(async () => (await jobs('skipped_online')) > skipped, { timeoutMs: 15_000, what: 'the job to skip the online user' });
      expect(push.requestsTo(pathOf(sub))).toHaveLength(0);
      expect(await webPushEvents(json.id as string)).toEqual([]);
      await client.close();
    } finally {
      await queue.resume();
    }
  }, 30_000);

  it('410 removes the subscription; the others still get theirs', async () => {
    const user = newUser('gone');
    const gone = await subscribe(user, 'gone');
    const kept = await subscribe(user, 'kept');
    push.answer(pathOf(gone), { status: 410 });
    const removed = await fetchMetric(stack.apps.ingest.adminUrl, 'herald_webpush_subscriptions_removed_total');
    const { json } = await send({ userIds: [user], payload: 1, notification: { title: 'Hi', body: '' } });
    const events = await untilEvents(json.id as string, 2);
    const byId = Object.fromEntries(events.map((e) => [e.subscriptionId, `${e.status} ${e.httpStatus}`]));
    expect(byId).toEqual({ [pushSubscriptionId(gone.json.endpoint)]: 'gone 410', [pushSubscriptionId(kept.json.endpoint)]: 'sent 201' });
    expect(await redis.hkeys(keys.pushSubscriptions(user))).toEqual([pushSubscriptionId(kept.json.endpoint)]);
    expect(await fetchMetric(stack.apps.ingest.adminUrl, 'herald_webpush_subscriptions_removed_total')).toBe(removed + 1);
  }, 30_000);

  it('429 waits its Retry-After, then sends', async () => {
    const user = newUser('throttled');
    const sub = await subscribe(user, 'throttled');
    push.answer(pathOf(sub), [{ status: 429, headers: { 'retry-after': '0' } }, { status: 201 }]);
    const { json } = await send({ userIds: [user], payload: 1, notification: { title: 'Hi', body: '' } });
    const events = await waitFor(async () => {
      const all = await webPushEvents(json.id as string);
      return all.some((e) => e.status === 'sent') && all;
    }, { timeoutMs: 15_000, what: 'the push after the 429' });
    expect(events.map((e) => e.status).sort()).toEqual(['sent', 'throttled']);
    expect(push.requestsTo(pathOf(sub))).toHaveLength(2);
  }, 30_000);

  it('an endpoint that hangs is tried WEBPUSH_ATTEMPTS times, then failed; other users are unaffected', async () => {
    const stuck = newUser('stuck');
    const fine = newUser('fine');
    const hang = await subscribe(stuck, 'hang');
    const ok = await subscribe(fine, 'fine');
    push.answer(pathOf(hang), 'hang');
    const { json } = await send({ userIds: [stuck, fine], payload: 1, notification: { title: 'Hi', body: '' } });
    const id = json.id as string;
    await waitFor(async () => (await webPushEvents(id)).some((e) => e.userId === fine), { timeoutMs: 15_000, what: "the other user's push" });
    expect(push.requestsTo(pathOf(ok))).toHaveLength(1);
    const events = await waitFor(async () => {
      const all = await webPushEvents(id);
      return all.some((e) => e.userId === stuck) && all;
    }, { timeoutMs: 20_000, what: 'the hanging push to fail' });
    expect(events.filter((e) => e.userId === stuck).map((e) => e.status)).toEqual(['failed']);
    expect(push.requestsTo(pathOf(hang))).toHaveLength(ATTEMPTS);
    // The subscription stays (a hang is not a "gone").
    expect(await redis.hexists(keys.pushSubscriptions(stuck), pushSubscriptionId(hang.json.endpoint))).toBe(1);
  }, 40_000);
});

describe('category messages (ingest: one job walks the members)', () => {
  async function setCategories(userId: string, categories: string[]): Promise<void> {
    const res = await fetch(`${stack.apps.ingest.url}/v1/users/${userId}/categories`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${categoriesToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ categories }),
    });
    expect(res.status).toBe(204);
  }
  let categoriesToken: string;
  beforeAll(async () => {
    categoriesToken = await signToken('webpush-categories', { scope: Scope.CATEGORIES_WRITE });
  });
  const connect = async (userId: string) => {
    const client = await TestClient.connect(`${gateway().replace(/^http/, 'ws')}/ws`, await signToken(userId));
    await client.waitForFrame('welcome');
    return client;
  };

  it('pushes to each subscription of the offline members only: not to online members, members without one, or others', async () => {
    const category = `wp-cat-${process.pid}-${++seq}`;
    const [offline, online, bare, outsider] = ['cat-off', 'cat-on', 'cat-bare', 'cat-out'].map(newUser);
    for (const user of [offline, online, bare]) await setCategories(user, [category]);
    const offSubs = [await subscribe(offline, 'cat-off-a'), await subscribe(offline, 'cat-off-b')];
    const others = [await subscribe(online, 'cat-on'), await subscribe(outsider, 'cat-out')];
    const client = await connect(online);
    const [queued, fanned] = [await jobs('queued'), await jobs('fanned_out')];
    const notification = { title: 'To the category', body: 'everyone' };
    const { status, json } = await send({ category, payload: 'c', notification });
    expect(status).toBe(202);
    await waitFor(async () => (await jobs('fanned_out')) > fanned, { timeoutMs: 15_000, what: 'the category job to walk the members' });
    const events = await untilEvents(json.id as string, 2);
    expect(events.map((e) => `${e.userId} ${e.status}`)).toEqual([`${offline} sent`, `${offline} sent`]);
    for (const sub of offSubs) expect(push.requestsTo(pathOf(sub)).map((r) => decryptPush(r, sub))).toEqual([{ messageId: json.id, notification }]);
    for (const sub of others) expect(push.requestsTo(pathOf(sub))).toHaveLength(0);
    // One category job and one job for the offline member: none for the others.
    expect(await jobs('queued')).toBe(queued + 2);
    // The online member got it over the WebSocket.
    expect((await client.waitForMessages(1))[0].id).toBe(json.id);
    await client.close();
  }, 30_000);

  it("a member who read the message (acked: position past its entry) before the member's job ran gets no push", async () => {
    const category = `wp-cat-${process.pid}-${++seq}`;
    const reader = newUser('cat-reader');
    await setCategories(reader, [category]);
    const sub = await subscribe(reader, 'cat-reader');
    const skipped = await jobs('skipped_read');
    await queue.pause();
    try {
      const { json } = await send({ category, payload: 'read it', notification: { title: 'Hi', body: '' } });
      const client = await connect(reader);
      const [message] = await client.waitForMessages(1);
      expect(message.id).toBe(json.id);
      client.ack([message.id]);
      const [[entry]] = (await redis.xrange(keys.categoryLog(category), '-', '+')) as [string, string[]][];
      await waitFor(async () => {
        const at = await redis.hget(keys.categoryPositions(reader), category);
        return at !== null && compareEntryIds(at, entry) >= 0;
      }, { what: 'the ack to move the position past the entry' });
      await client.close();
      await waitFor(async () => (await redis.hlen(keys.presence(reader))) === 0, { what: 'the session to leave presence' });
      await queue.resume();
      await waitFor(async () => (await jobs('skipped_read')) > skipped, { timeoutMs: 15_000, what: "the member's job to skip the read message" });
      expect(push.requestsTo(pathOf(sub))).toHaveLength(0);
    } finally {
      await queue.resume();
    }
  }, 30_000);
});

