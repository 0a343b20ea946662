/**
 * Per-user events through the exposure pipeline (issue 18): a client's `event` frames become
 * `opened` / `clicked` / `dismissed` events on the topic, ids a drain finds expired become
 * `expired` events; bad event frames are refused, counted and publish nothing. One gateway on a
 * private Redis and the Pub/Sub emulator; events pulled from a test subscription.
 */
import { perUserEventId } from '@herald/pubsub';
import { keys, recallControlNote } from '@herald/redis';
import { TestClient, waitFor } from '@herald/testing';
import { sharedHarness, type ReceivedEvent } from './harness';

const h = sharedHarness();

let n = 0;
const user = (what: string) => `${what}-${++n}-${Date.now()}`;

/** The events other than exposures on the topic for `userId` (of `kind` when given). */
const eventsOf = (userId: string, kind?: string): ReceivedEvent[] =>
  h.received.filter((e) => e.data.userId === userId && e.data.kind !== undefined && (kind === undefined || e.data.kind === kind));

async function waitForEvents(userId: string, kind: string, count: number): Promise<ReceivedEvent[]> {
  await waitFor(() => eventsOf(userId, kind).length >= count, { what: `${count} ${kind} events of ${userId}` });
  return eventsOf(userId, kind);
}

async function connected(userId: string, messages = 0): Promise<TestClient> {
  const client = await TestClient.connect(h.wsUrl, await h.token(userId));
  await client.waitForFrame('welcome');
  if (messages > 0) await client.waitForMessages(messages);
  return client;
}

const frame = (value: Record<string, unknown>) => JSON.stringify({ type: 'event', ...value });

describe('engagement events from clients', () => {
  it('publishes one event per frame with the right fields, and the same event id for a repeat', async () => {
    const u = user('open');
    await h.setCategories(u, ['news']);
    const direct = await h.send([u], { hello: 1 });
    const news = await h.publish('news', { headline: 1 });
    const client = await connected(u, 2);
    const { sessionId } = await client.waitForFrame('welcome');

    client.send(frame({ id: direct, kind: 'opened' }));
    const [opened] = await waitForEvents(u, 'opened', 1);
    expect(opened.attributes).toEqual({ kind: 'opened' });
    expect(opened.data).toEqual({
      kind: 'opened',
      eventId: perUserEventId('opened', direct, u),
      messageId: direct,
      userId: u,
      category: null,
      sessionId,
      gatewayId: h.config.GATEWAY_ID,
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    await h.gateway.publisher.flush();
    expect(eventsOf(u)).toHaveLength(1);

    // A category message names its category (the session's recent ids); `action` with clicked.
    client.send(frame({ id: news, kind: 'clicked', action: 'read-more' }));
    const [clicked] = await waitForEvents(u, 'clicked', 1);
    expect(clicked.attributes).toEqual({ kind: 'clicked' });
    expect(clicked.data).toMatchObject({ eventId: perUserEventId('clicked', news, u), messageId: news, category: 'news', action: 'read-more' });

    // The batch form: one event per id, each once.
    client.send(frame({ ids: [direct, news, direct], kind: 'dismissed' }));
    const dismissed = await waitForEvents(u, 'dismissed', 2);
    expect(dismissed.map((e) => e.data.eventId).sort()).toEqual(
      [perUserEventId('dismissed', direct, u), perUserEventId('dismissed', news, u)].sort(),
    );

    // Sent again (another device, a retry): the same event id, which the consumer stores once.
    client.send(frame({ id: direct, kind: 'opened' }));
    const twice = await waitForEvents(u, 'opened', 2);
    expect(new Set(twice.map((e) => e.data.eventId))).toEqual(new Set([perUserEventId('opened', direct, u)]));
    await h.gateway.publisher.flush();
    expect(eventsOf(u, 'dismissed')).toHaveLength(2);
    expect(h.exposures.filter((e) => e.userId === u)).toHaveLength(2);
    await client.close();
  });

  it('refuses bad event frames with INVALID_FRAME, counts them and publishes nothing; then closes a client that keeps on with 4008', async () => {
    const u = user('bad');
    const id = await h.send([u], 'x');
    const client = await connected(u, 1);
    const before = await h.metric('herald_gateway_events_refused_total', 'reason="invalid"');
    const bad = [
      frame({ id, kind: 'liked' }),
      frame({ id: 'not an id!', kind: 'opened' }),
      frame({ id, ids: [id], kind: 'opened' }),
      frame({ ids: [], kind: 'opened' }),
      frame({ ids: Array.from({ length: 101 }, (_, i) => `m-${i}`), kind: 'opened' }),
      frame({ id, kind: 'opened', action: 'x' }),
      frame({ id, kind: 'clicked', action: 'a'.repeat(65) }),
      frame({ id, kind: 'clicked', action: 'two words' }),
      frame({ kind: 'opened' }),
    ];
    for (const raw of bad) client.send(raw);
    // Frames are handled in order: once this one's event is on the topic, the bad ones were refused.
    client.send(frame({ id, kind: 'opened' }));
    await waitForEvents(u, 'opened', 1);
    await h.gateway.publisher.flush();
    expect(eventsOf(u)).toHaveLength(1);
    const errors = client.frames.filter((f) => f.type === 'error');
    expect(errors).toHaveLength(bad.length);
    expect(new Set(errors.map((f) => (f as { code: string }).code))).toEqual(new Set(['INVALID_FRAME']));
    expect(await h.metric('herald_gateway_events_refused_total', 'reason="invalid"')).toBe(before + bad.length);

    // WS_MAX_FRAME_ERRORS (10) bad frames in all, then the next closes the connection.
    for (let i = 0; i < 2; i++) client.send(frame({ id, kind: 'liked' }));
    expect(await client.waitForClose()).toBe(4008);
  });

  it('records at most WS_MAX_EVENTS_PER_SECOND ids a second per connection, counting the rest', async () => {
    const u = user('budget');
    const client = await connected(u);
    const before = await h.metric('herald_gateway_events_refused_total', 'reason="budget"');
    // 500 ids (made up: the gateway does not check delivery) in one burst: the budget (200 a
    // second) is reset once a second, so at most once while the burst is handled.
    const ids = Array.from({ length: 500 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    for (let at = 0; at < ids.length; at += 100) client.send(frame({ ids: ids.slice(at, at + 100), kind: 'dismissed' }));
    await waitFor(async () => eventsOf(u).length + (await h.metric('herald_gateway_events_refused_total', 'reason="budget"')) - before === 500, {
      what: 'every id recorded or refused',
    });
    const recorded = eventsOf(u).length;
    expect(recorded).toBeGreaterThanOrEqual(200);
    expect(recorded).toBeLessThanOrEqual(400);
    // The first ids of the burst are the ones recorded.
    expect(eventsOf(u).map((e) => e.data.messageId)).toEqual(expect.arrayContaining(ids.slice(0, 200)));
    expect(client.frames.filter((f) => f.type === 'error')).toEqual([]);
    await client.close();
  });

  it('drops an event for a message this gateway knows was recalled', async () => {
    const u = user('recalled');
    const [gone, kept] = [await h.send([u], 'gone'), await h.send([u], 'kept')];
    const client = await connected(u, 2);
    const before = await h.metric('herald_gateway_events_refused_total', 'reason="recalled"');
    await h.redis.spublish(keys.controlChannel, recallControlNote('test', gone));
    await client.waitForFrame('delete');
    client.send(frame({ id: gone, kind: 'opened' }));
    client.send(frame({ id: kept, kind: 'opened' }));
    await waitForEvents(u, 'opened', 1);
    await h.gateway.publisher.flush();
    expect(eventsOf(u).map((e) => e.data.messageId)).toEqual([kept]);
    expect(await h.metric('herald_gateway_events_refused_total', 'reason="recalled"')).toBe(before + 1);
    await client.close();
  });
});

describe('expired events', () => {
  it('publishes one expired event for an inbox id and for a category entry a drain finds expired', async () => {
    const u = user('expired');
    await h.setCategories(u, ['weather']);
    const inboxId = await h.send([u], 'old', { ttlMs: 1 });
    const logId = await h.publish('weather', 'old', { ttlMs: 1 });
    const fresh = await h.send([u], 'fresh');
    await waitFor(async () => (await h.redis.exists(keys.message(inboxId), keys.message(logId))) === 0, { what: 'bodies expired' });

    const client = await connected(u, 1);
    const expired = await waitForEvents(u, 'expired', 2);
    await h.gateway.publisher.flush();
    expect(eventsOf(u, 'expired')).toHaveLength(2);
    const byId = new Map(expired.map((e) => [e.data.messageId, e]));
    expect(byId.get(inboxId)).toEqual({
      data: { kind: 'expired', eventId: perUserEventId('expired', inboxId, u), messageId: inboxId, userId: u, category: null, at: expect.any(String) },
      attributes: { kind: 'expired' },
    });
    expect(byId.get(logId)?.data).toMatchObject({ eventId: perUserEventId('expired', logId, u), category: 'weather' });
    expect(client.messages().map((m) => m.id)).toEqual([fresh]);
    expect(await h.metric('herald_gateway_user_events_total', 'kind="expired"')).toBeGreaterThanOrEqual(2);
    await client.close();
  });
});
