/**
 * The funnel end to end against a real Pub/Sub emulator and a real Postgres: events of every kind
 * published to the topic in the shapes of libs/types events.ts, stored once each in their tables,
 * and the numbers the funnel and lifecycle APIs answer. Duplicates and any order change nothing;
 * an engagement is stored only for a message the user was delivered.
 */
process.env.METADATA_SERVER_DETECTION = 'none';

import type { Topic } from '@google-cloud/pubsub';
import type { Pool } from 'pg';
import { waitFor } from '@herald/testing';
import type { Consumer } from '../src/app';
import type { Funnel } from '../src/db/funnel-store';
import { analystToken, bearer, countRows, counterValue, inspector } from './support/fixtures';
import { engagementOf, exposureOf, iso, lossOf, webPushOf, messageEventOf, publishEvents, shuffled, type AnyEvent } from './support/events';
import { configFor, startBackends, startConsumer, type Backends } from './support/harness';

jest.setTimeout(60_000);

const S = 1000;
const T0 = Date.UTC(2033, 5, 1, 9, 0, 0);
const users = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `u${from + i}`);

let backends: Backends;
let db: Pool;
let consumer: Consumer;
let topic: Topic;
let auth: { authorization: string };

beforeAll(async () => {
  backends = await startBackends();
  db = inspector(backends.postgres.url);
  const config = configFor(backends, { CONSUMER_ENGAGEMENT_RECHECK_MS: '100', CONSUMER_ENGAGEMENT_RECHECKS: '20' });
  consumer = await startConsumer(config);
  topic = backends.publisher.topic(config.EXPOSURE_TOPIC);
  auth = bearer(await analystToken());
});

afterAll(async () => {
  await consumer?.close();
  await db?.end();
  await backends?.stop();
});

async function get(url: string, headers: Record<string, string> = auth) {
  const res = await consumer.app.inject({ method: 'GET', url, headers });
  return { status: res.statusCode, body: res.json() };
}

const holds = (condition = 'true', params: unknown[] = []) => countRows(db, `SELECT 1 FROM engagement_holds WHERE ${condition}`, params);
const holdOutcome = (outcome: string) =>
  consumer.metrics.getSingleMetric('herald_consumer_engagement_holds_total')!.get().then((m) => m.values.find((v) => v.labels.outcome === outcome)?.value ?? 0);

/**
 * Message `news-1` to 100 users of category news: u0-u79 delivered (u0-u9 on two devices), u0-u49
 * opened, u0-u9 clicked, u50-u54 dismissed, u80-u89 expired, u90-u94 dropped; u95-u99 pending.
 * Delivery i+1 s after createdAt, opening 100+i s after. Plus `direct-1`, to 4 users directly: 2
 * delivered, 1 opened, one of the two others expired.
 */
function funnelEvents(): AnyEvent[] {
  const news = 'news-1';
  const direct = 'direct-1';
  return [
    messageEventOf('sent', news, T0, { category: 'news', recipients: 100, size: 120, version: 1, expiresAt: iso(T0 + 3600 * S) }),
    ...users(0, 80).map((u, i) => exposureOf(news, u, T0 + (i + 1) * S, 'news')),
    ...users(0, 10).map((u, i) => exposureOf(news, u, T0 + (i + 1) * S + 500, 'news', `tablet-${u}`)),
    ...users(0, 50).map((u, i) => engagementOf('opened', news, u, T0 + (100 + i) * S, 'news')),
    ...users(0, 10).map((u, i) => engagementOf('clicked', news, u, T0 + (200 + i) * S, 'news', 'view')),
    ...users(50, 55).map((u, i) => engagementOf('dismissed', news, u, T0 + (300 + i) * S, 'news')),
    ...users(80, 90).map((u) => lossOf('expired', news, u, T0 + 3600 * S, 'news')),
    ...users(90, 95).map((u) => lossOf('dropped', news, u, T0 + 10 * S, 'news')),
    // Web Push while offline: u95 reached on two subscriptions, u96 reached, u97's subscription gone.
    webPushOf(news, 'u95', 'sent', T0 + 2 * S),
    webPushOf(news, 'u95', 'sent', T0 + 2 * S, 'sub-u95-phone'),
    webPushOf(news, 'u96', 'sent', T0 + 2 * S),
    webPushOf(news, 'u97', 'gone', T0 + 2 * S),
    messageEventOf('sent', direct, T0 + 86_400 * S, { recipients: 4, size: 50 }),
    exposureOf(direct, 'u0', T0 + 86_402 * S),
    exposureOf(direct, 'u1', T0 + 86_404 * S),
    engagementOf('opened', direct, 'u1', T0 + 86_410 * S),
    lossOf('expired', direct, 'u2', T0 + 90_000 * S),
  ];
}

const NEWS: Funnel = {
  messages: 1,
  sent: 100,
  delivered: 80,
  opened: 50,
  clicked: 10,
  dismissed: 5,
  expired: 10,
  dropped: 5,
  pending: 5,
  nudged: 2,
  // percentile_cont over 1…80 s and 100…149 s.
  timeToDelivery: { p50: 40.5, p90: 72.1 },
  timeToOpen: { p50: 124.5, p90: 144.1 },
};
const DIRECT: Funnel = {
  messages: 1,
  sent: 4,
  delivered: 2,
  opened: 1,
  clicked: 0,
  dismissed: 0,
  expired: 1,
  dropped: 0,
  pending: 1,
  nudged: 0,
  timeToDelivery: { p50: 3, p90: 3.8 },
  timeToOpen: { p50: 10, p90: 10 },
};

describe('the funnel', () => {
  beforeAll(async () => {
    // Every event twice, in a shuffled order: engagements often come before their exposures.
    const events = funnelEvents();
    await publishEvents(topic, shuffled([...events, ...events]));
    await waitFor(async () => (await get('/v1/exposures/funnel?messageId=news-1')).body.totals?.opened === 50 && (await holds()) === 0, {
      timeoutMs: 30_000,
      what: 'every engagement of news-1 stored',
    });
  });

  test('a message to 100 users gives exactly its numbers, whatever the order and however often events came', async () => {
    expect(await get('/v1/exposures/funnel?messageId=news-1')).toEqual({ status: 200, body: { groupBy: null, totals: NEWS } });
    // One row per (message, user, kind), one per exposure, one per loss.
    expect(await countRows(db, "SELECT 1 FROM engagements WHERE message_id = 'news-1'")).toBe(65);
    expect(await countRows(db, "SELECT 1 FROM exposures WHERE message_id = 'news-1'")).toBe(90);
    expect(await countRows(db, "SELECT 1 FROM losses WHERE message_id = 'news-1'")).toBe(15);
    expect(await countRows(db, "SELECT 1 FROM webpush_outcomes WHERE message_id = 'news-1'")).toBe(4);
    expect(await countRows(db, "SELECT 1 FROM engagements WHERE message_id = 'news-1' AND kind = 'clicked' AND action = 'view'")).toBe(10);
    const { rows } = await db.query("SELECT recipients, category, created_at, version FROM messages WHERE id = 'news-1'");
    expect(rows).toEqual([{ recipients: 100, category: 'news', created_at: new Date(T0), version: 1 }]);
  });

  test('by category and by day, and over a window', async () => {
    const byCategory = await get('/v1/exposures/funnel?groupBy=category');
    expect(byCategory.status).toBe(200);
    expect(byCategory.body.items).toEqual([
      { key: null, ...DIRECT },
      { key: 'news', ...NEWS },
    ]);
    expect(byCategory.body.totals).toMatchObject({ messages: 2, sent: 104, delivered: 82, opened: 51, expired: 11, dropped: 5, pending: 6 });

    const byDay = await get(`/v1/exposures/funnel?groupBy=day&from=${iso(T0)}&to=${iso(T0 + 2 * 86_400 * S)}`);
    expect(byDay.body.items).toEqual([
      { key: '2033-06-01', ...NEWS },
      { key: '2033-06-02', ...DIRECT },
    ]);
    // [from, to) on the messages' createdAt: news-1 at T0 is in, direct-1 a day later is out.
    const window = await get(`/v1/exposures/funnel?from=${iso(T0)}&to=${iso(T0 + 86_400 * S)}`);
    expect(window.body.totals).toEqual(NEWS);
    expect((await get('/v1/exposures/funnel?category=news')).body.totals).toEqual(NEWS);
    expect((await get('/v1/exposures/funnel?messageId=nothing-like-it')).body.totals).toMatchObject({ messages: 0, sent: 0, pending: 0, timeToDelivery: { p50: null, p90: null } });
  });

  test('a forged opened for a message the user never got is held, re-checked, refused and counted, never stored', async () => {
    const refusedBefore = await holdOutcome('refused');
    const forged = engagementOf('opened', 'news-1', 'u99', T0 + 500 * S, 'news');
    await publishEvents(topic, [forged]);
    await waitFor(async () => (await holdOutcome('refused')) === refusedBefore + 1, { timeoutMs: 15_000, what: 'the forged engagement refused' });
    expect(await holds()).toBe(0);
    expect(await countRows(db, 'SELECT 1 FROM engagements WHERE event_id = $1', [forged.eventId])).toBe(0);
    expect((await get('/v1/exposures/funnel?messageId=news-1')).body.totals.opened).toBe(50);
  });
});

test('an engagement that comes before its exposure waits for it and is then stored once', async () => {
  const storedBefore = await holdOutcome('stored');
  const opened = engagementOf('opened', 'late-1', 'u7', T0 + 20 * S);
  await publishEvents(topic, [messageEventOf('sent', 'late-1', T0, { recipients: 1 }), opened]);
  await waitFor(async () => (await holds('event_id = $1', [opened.eventId])) === 1, { what: 'the engagement held' });
  expect(await countRows(db, 'SELECT 1 FROM engagements WHERE event_id = $1', [opened.eventId])).toBe(0);

  await publishEvents(topic, [exposureOf('late-1', 'u7', T0 + 5 * S), opened]);
  await waitFor(async () => (await countRows(db, 'SELECT 1 FROM engagements WHERE event_id = $1', [opened.eventId])) === 1, { what: 'the engagement stored' });
  await waitFor(async () => (await holds('event_id = $1', [opened.eventId])) === 0, { what: 'the hold gone' });
  expect(await holdOutcome('stored')).toBeGreaterThanOrEqual(storedBefore + 1);
  expect((await get('/v1/exposures/funnel?messageId=late-1')).body.totals).toMatchObject({ sent: 1, delivered: 1, opened: 1, pending: 0 });
});

test('lifecycle steps in any order, twice, make the same row, and the lifecycle counts follow', async () => {
  const at = (s: number) => T0 + 5 * 86_400 * S + s * S;
  const steps = [
    messageEventOf('scheduled', 'life-1', at(0), { scheduledFor: iso(at(600)) }),
    messageEventOf('sent', 'life-1', at(600), { recipients: 3, size: 100, version: 1, scheduledFor: iso(at(600)), expiresAt: iso(at(4200)) }),
    messageEventOf('updated', 'life-1', at(700), { version: 2, size: 200, expiresAt: iso(at(5000)) }),
    messageEventOf('updated', 'life-1', at(800), { version: 3, size: 300, expiresAt: iso(at(6000)) }),
    messageEventOf('recalled', 'life-1', at(900)),
    messageEventOf('sent', 'life-2', at(10), { recipients: 5, replaceKey: 'score', replaced: 2, version: 1 }),
    messageEventOf('sent', 'life-3', at(20), { recipients: 7, replaceKey: 'score', replaced: 3, dropped: 1, version: 1 }),
    messageEventOf('scheduled', 'life-4', at(30), { scheduledFor: iso(at(3600)) }),
  ];
  // Newest first, then again in order: each step applied twice, in two orders.
  await publishEvents(topic, [...steps].reverse());
  await publishEvents(topic, steps);
  const window = `from=${iso(at(0))}&to=${iso(at(86_400))}`;
  const expected = { messages: 4, sent: 3, scheduled: 2, updated: 1, recalled: 1, replaced: 5, replacing: 2, recipients: 15 };
  await waitFor(async () => JSON.stringify((await get(`/v1/exposures/messages/stats?${window}`)).body) === JSON.stringify(expected), {
    timeoutMs: 20_000,
    what: 'the lifecycle counts',
  });
  const row = async () =>
    (await db.query("SELECT version, size, expires_at, updated_at, recalled_at, created_at, scheduled_at FROM messages WHERE id = 'life-1'")).rows;
  const expectedRow = [
    { version: 3, size: 300, expires_at: new Date(at(6000)), updated_at: new Date(at(800)), recalled_at: new Date(at(900)), created_at: new Date(at(600)), scheduled_at: new Date(at(0)) },
  ];
  // The counts take life-1 as scheduled from its `sent` step's scheduledFor already: its
  // `scheduled` step (scheduled_at) may be stored by a later batch than the one that made them.
  await waitFor(async () => JSON.stringify(await row()) === JSON.stringify(expectedRow), { timeoutMs: 20_000, what: "life-1's row" }).catch(() => undefined);
  expect(await row()).toEqual(expectedRow);
  // The scheduled message not sent yet counts in the window of its sendAt.
  expect((await get(`/v1/exposures/messages/stats?from=${iso(at(3600))}&to=${iso(at(3601))}`)).body).toMatchObject({ messages: 1, scheduled: 1, sent: 0 });
});

test('an unknown kind, a kind attribute that differs, or a per-user event under another id goes to dead_letters', async () => {
  const before = await countRows(db, 'SELECT 1 FROM dead_letters');
  const deadBefore = await counterValue(consumer.metrics, 'herald_exposures_dead_letter_total');
  const wrongId = { ...engagementOf('opened', 'news-1', 'u1', T0), eventId: 'my-own-id' };
  await Promise.all([
    topic.publishMessage({ json: { ...lossOf('expired', 'm', 'u1', T0), kind: 'vanished' } }),
    topic.publishMessage({ json: engagementOf('clicked', 'news-1', 'u60', T0), attributes: { kind: 'opened' } }),
    topic.publishMessage({ json: wrongId }),
  ]);
  await waitFor(async () => (await countRows(db, 'SELECT 1 FROM dead_letters')) === before + 3, { what: 'three dead letters' });
  const { rows } = await db.query<{ reason: string }>('SELECT reason FROM dead_letters ORDER BY id DESC LIMIT 3');
  expect(rows.map((r) => r.reason).sort()).toEqual([
    'eventId is not the one derived from (kind, messageId, userId)',
    'the kind attribute "opened" differs from the body\'s kind',
    'unknown kind "vanished"',
  ]);
  expect(await counterValue(consumer.metrics, 'herald_exposures_dead_letter_total')).toBe(deadBefore + 3);
  expect(await countRows(db, "SELECT 1 FROM engagements WHERE message_id = 'news-1' AND user_id = 'u60' AND kind = 'clicked'")).toBe(0);
});

test('the funnel routes refuse bad queries with a code, and callers without exposures:read', async () => {
  expect(await get('/v1/exposures/funnel?groupBy=week')).toMatchObject({ status: 400, body: { error: { code: 'INVALID_QUERY' } } });
  expect(await get('/v1/exposures/funnel?category=not%20a%20category')).toMatchObject({ status: 400, body: { error: { code: 'INVALID_QUERY' } } });
  expect(await get(`/v1/exposures/funnel?from=${iso(T0 + S)}&to=${iso(T0)}`)).toMatchObject({ status: 400, body: { error: { code: 'INVALID_QUERY' } } });
  expect(await get('/v1/exposures/messages/stats?messageId=x')).toMatchObject({ status: 400, body: { error: { code: 'INVALID_QUERY' } } });
  expect(await get('/v1/exposures/funnel', {})).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHORIZED' } } });
  expect(await get('/v1/exposures/messages/stats', bearer(await analystToken('messages:write')))).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
});
