/**
 * Issue 18's funnel end to end, against real processes: two gateways, ingest, the consumer over
 * Postgres and the Pub/Sub emulator, real WebSocket clients, the funnel API over HTTP and the
 * dashboard in headless Chromium. One message to 100 users: 80 online get it (one gateway is
 * SIGKILLed right after its 40 got it, before they acked, so they get it again elsewhere), 50 open
 * it, 10 click it, 10 connect only after it expired, 5 lose it to their offline list's cap, 5 never
 * come. The funnel must say exactly that; forged `opened` events from users it never reached are
 * not counted. Then issue 17's counts: what producers did (replace keys, a scheduled send, an
 * update, a recall), from ingest's events to the consumer's lifecycle stats.
 */
import type { Browser } from 'playwright-core';
import Redis from 'ioredis';
import { keys } from '@herald/redis';
import { launchChromium, signToken, startTestStack, TestClient, waitFor, type Stack } from '@herald/testing';
import { Scope } from '@herald/types';

jest.setTimeout(120_000);

const TTL_SECONDS = 6;
let stack: Stack;
let redis: Redis;
let browser: Browser;
let producer: string;
let analyst: string;

beforeAll(async () => {
  ({ stack } = await startTestStack(
    {
      EXPOSURE_TOPIC: 'exposures-funnel',
      INBOX_CAP: '3',
      // A dead gateway's write-ahead log is rescued by the other within about a second.
      EXPOSURE_SPILL_CLAIM_MS: '1000',
      CONSUMER_ENGAGEMENT_RECHECK_MS: '200',
      CONSUMER_ENGAGEMENT_RECHECKS: '5',
      CONSUMER_BATCH_MAX_MS: '20',
    },
    { gateways: 2 },
  ));
  redis = new Redis(stack.redis!.url);
  producer = await signToken('funnel-producer', { scope: Scope.MESSAGES_WRITE });
  analyst = await signToken('funnel-analyst', { scope: Scope.EXPOSURES_READ });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  redis?.disconnect();
  await stack?.stop();
}, 60_000);

const user = (i: number) => `funnel-${process.pid}-${i}`;
const wsUrl = (g: number) => `${stack.gateways[g].url.replace(/^http/, 'ws')}/ws`;

async function connect(i: number, g: number): Promise<TestClient> {
  const client = await TestClient.connect(wsUrl(g), await signToken(user(i)));
  await client.waitForFrame('welcome');
  return client;
}

async function send(userIds: string[], payload: unknown, ttlSeconds: number): Promise<string> {
  const res = await fetch(`${stack.apps.ingest.url}/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${producer}`, 'content-type': 'application/json' },
    body: JSON.stringify({ userIds, payload, ttlSeconds }),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

type Totals = Record<'sent' | 'delivered' | 'opened' | 'clicked' | 'dismissed' | 'expired' | 'dropped' | 'pending', number>;

async function funnel(messageId: string): Promise<Totals> {
  const res = await fetch(`${stack.apps['exposure-consumer'].url}/v1/exposures/funnel?messageId=${messageId}`, {
    headers: { authorization: `Bearer ${analyst}` },
  });
  expect(res.status).toBe(200);
  const { totals } = (await res.json()) as { totals: Totals };
  const { sent, delivered, opened, clicked, dismissed, expired, dropped, pending } = totals;
  return { sent, delivered, opened, clicked, dismissed, expired, dropped, pending };
}

const event = (client: TestClient, id: string, kind: 'opened' | 'clicked', action?: string) =>
  client.send(JSON.stringify({ type: 'event', id, kind, ...(action ? { action } : {}) }));

it('100 recipients: 80 delivered (a gateway SIGKILLed midway), 50 opened, 10 clicked, 10 expired, 5 dropped, 5 pending', async () => {
  const online = [
    ...(await Promise.all(Array.from({ length: 40 }, (_, i) => connect(i, 0)))),
    ...(await Promise.all(Array.from({ length: 40 }, (_, i) => connect(40 + i, 1)))),
  ];
  const id = await send(Array.from({ length: 100 }, (_, i) => user(i)), { text: 'funnel' }, TTL_SECONDS);
  for (const client of online) await client.waitForMessages(1);

  // Gateway 0 dies before its 40 users acked: their exposures may still be only in its
  // write-ahead log (gateway 1 rescues them), and they get the message again on gateway 1.
  online.slice(40).forEach((client) => client.ack([id]));
  stack.gateways[0].child.kill('SIGKILL');
  await Promise.all(online.slice(0, 40).map((client) => client.waitForClose(15_000)));
  const moved = await Promise.all(Array.from({ length: 40 }, (_, i) => connect(i, 1)));
  for (const client of moved) expect((await client.waitForMessages(1)).map((m) => m.id)).toEqual([id]);
  moved.forEach((client) => client.ack([id]));
  const reached = [...moved, ...online.slice(40)];

  // 50 open it (25 on each side of the kill), 10 of them click.
  const openers = [...reached.slice(0, 25), ...reached.slice(40, 65)];
  openers.forEach((client) => event(client, id, 'opened'));
  openers.slice(0, 10).forEach((client) => event(client, id, 'clicked', 'view'));
  // A repeat is the same event.
  event(openers[0], id, 'opened');

  // Users 90–94 were offline with full lists: three newer messages push it out (INBOX_CAP 3).
  for (let n = 0; n < 3; n++) await send([90, 91, 92, 93, 94].map(user), { newer: n }, 3600);

  // Users 80–89 come back after it expired: nothing delivered, an `expired` each; then they forge
  // an `opened` for it, which the consumer never stores (no exposure of it for them).
  await waitFor(async () => (await redis.exists(keys.message(id))) === 0, { timeoutMs: 20_000, what: 'the message to expire' });
  const late = await Promise.all(Array.from({ length: 10 }, (_, i) => connect(80 + i, 1)));
  late.forEach((client) => event(client, id, 'opened'));

  const expected: Totals = { sent: 100, delivered: 80, opened: 50, clicked: 10, dismissed: 0, expired: 10, dropped: 5, pending: 5 };
  let last: Totals | undefined;
  try {
    await waitFor(
      async () => {
        last = await funnel(id);
        return JSON.stringify(last) === JSON.stringify(expected);
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'the funnel' },
    );
  } finally {
    // On a timeout, the numbers it stopped at.
    expect(last).toEqual(expected);
  }
  for (const client of late) expect(client.messages().map((m) => m.id)).not.toContain(id);

  // The forged ones were refused (after the re-checks), not merely late.
  await waitFor(
    async () => {
      const text = await (await fetch(`${stack.apps['exposure-consumer'].url}/metrics`)).text();
      return /herald_consumer_engagement_holds_total\{outcome="refused"\} ([1-9]\d*)/.exec(text)?.[1] === '10';
    },
    { timeoutMs: 20_000, what: 'the 10 forged opened events to be refused' },
  );
  expect(await funnel(id)).toEqual(expected);

  // The dashboard shows the same funnel for the message.
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${stack.apps['exposure-consumer'].url}/#token=${analyst}`);
  await page.locator('#message').fill(id);
  await page.getByRole('button', { name: 'Load' }).click();
  await page.locator('#funnel-scope', { hasText: `message ${id}` }).waitFor();
  await page.locator('[data-testid="results"][data-state="ready"]').waitFor();
  const shown = await page.getByTestId('funnel-step').evaluateAll((elements) =>
    Object.fromEntries(elements.map((e) => [e.getAttribute('data-step'), Number(e.getAttribute('data-value'))])),
  );
  expect(shown).toEqual(expected);
  await page.context().close();

  await Promise.all([...reached, ...late].map((client) => client.close()));
});

async function request(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${stack.apps.ingest.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${producer}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

it('counts what producers did (issue 17): replaced, scheduled, updated, recalled, from ingest through the consumer', async () => {
  const from = new Date(Date.now() - 1000).toISOString();
  const [a, b, c, d] = [1000, 1001, 1002, 1003].map(user);
  // A message without a replace key, then two with one key to the same two offline users: the
  // second replaces the first in both lists (the keyless one stays).
  await send([a, b], { n: 1 }, 600).then(() => undefined);
  const first = await request('POST', '/v1/messages', { userIds: [a, b], payload: { n: 1 }, replaceKey: 'count' });
  const second = await request('POST', '/v1/messages', { userIds: [a, b], payload: { n: 2 }, replaceKey: 'count' });
  expect([first.status, second.status]).toEqual([202, 202]);
  // One scheduled a second ahead, sent when its time comes.
  const scheduled = await request('POST', '/v1/messages', { userIds: [c], payload: 'later', sendAt: new Date(Date.now() + 1000).toISOString() });
  expect(scheduled.status).toBe(202);
  // One updated, then recalled.
  const changed = ((await (await request('POST', '/v1/messages', { userIds: [d], payload: 'v1' })).json()) as { id: string }).id;
  expect((await request('PATCH', `/v1/messages/${changed}`, { payload: 'v2' })).status).toBe(200);
  expect((await request('DELETE', `/v1/messages/${changed}`)).status).toBe(200);

  const expected = { messages: 5, sent: 5, scheduled: 1, updated: 1, recalled: 1, replaced: 2, replacing: 1, recipients: 8 };
  let last: Record<string, number> | undefined;
  try {
    await waitFor(
      async () => {
        const res = await fetch(`${stack.apps['exposure-consumer'].url}/v1/exposures/messages/stats?from=${from}`, { headers: { authorization: `Bearer ${analyst}` } });
        expect(res.status).toBe(200);
        last = (await res.json()) as Record<string, number>;
        return Object.entries(expected).every(([k, v]) => last?.[k] === v);
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'the lifecycle counts' },
    );
  } finally {
    expect(last).toMatchObject(expected);
  }
});
