/**
 * The analysts' dashboard in a real browser (Debian's headless Chromium driven by playwright-core)
 * against the consumer listening on a real port over a real Postgres, seeded through the store.
 * The numbers the page shows are compared with what the store's own stats return.
 */
process.env.METADATA_SERVER_DETECTION = 'none';

import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '@herald/testing';
import type { ExposureEvent } from '@herald/types';
import type { StatsItem, StatsQuery } from '../src/db/exposure-store';
import { sharedAnalystApi } from './support/analyst-api';
import { engagementOf, exposureOf, lossOf, messageEventOf } from './support/events';
import { analystToken } from './support/fixtures';

jest.setTimeout(60_000);

const HOUR = 3600_000;
const T0 = Date.UTC(2032, 2, 14, 8, 0, 0);

/**
 * 40 events over hours 0, 1, 2 and 4 from T0 (hour 3 empty, so the chart has a gap), five
 * messages with different reach (one id is markup, to see it shown as text), two categories plus
 * direct messages, seven users.
 */
const MESSAGES = ['launch', 'promo-<b>spring</b>', 'digest', 'alert', 'welcome'];
const HOURS = [0, 1, 1, 2, 2, 2, 4, 1, 2, 1, 0, 2, 2];
const events: ExposureEvent[] = Array.from({ length: 40 }, (_, i) => ({
  eventId: `dash-${String(i).padStart(3, '0')}`,
  messageId: MESSAGES[[0, 0, 0, 1, 1, 2, 0, 3, 1, 4][i % 10]],
  userId: `u${i % 11 < 4 ? i % 11 : (i * 3) % 7}`,
  category: i % 5 === 0 ? null : i % 3 === 0 ? 'sports' : 'news',
  sessionId: `s${i % 4}`,
  gatewayId: 'gw-a',
  deliveredAt: new Date(T0 + HOURS[i % HOURS.length] * HOUR + i * 37_000).toISOString(),
  via: i % 2 ? 'live' : 'offline',
}));

/**
 * The funnel's seed: fun-1 (news) to 20 users, 12 delivered, 6 opened, 2 clicked, 3 expired, 1
 * dropped (4 pending); fun-2 scheduled; fun-3 (direct) replaced 2 pending copies, was updated and
 * recalled.
 */
const u = (i: number) => `f${i}`;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const funnelSeed = {
  exposures: range(12).map((i) => exposureOf('fun-1', u(i), T0 + (i + 1) * 1000, 'news')),
  engagements: [...range(6).map((i) => engagementOf('opened', 'fun-1', u(i), T0 + 60_000)), ...range(2).map((i) => engagementOf('clicked', 'fun-1', u(i), T0 + 90_000))],
  losses: [...[12, 13, 14].map((i) => lossOf('expired', 'fun-1', u(i), T0 + HOUR)), lossOf('dropped', 'fun-1', u(15), T0)],
  messages: [
    messageEventOf('sent', 'fun-1', T0, { category: 'news', recipients: 20, version: 1 }),
    messageEventOf('scheduled', 'fun-2', T0, { scheduledFor: new Date(T0 + HOUR).toISOString() }),
    messageEventOf('sent', 'fun-3', T0 + 1000, { recipients: 2, replaceKey: 'k', replaced: 2, version: 1 }),
    messageEventOf('updated', 'fun-3', T0 + 2000, { version: 2 }),
    messageEventOf('recalled', 'fun-3', T0 + 3000),
  ],
};

let browser: Browser;
let origin: string;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

const api = sharedAnalystApi([...events, ...funnelSeed.exposures], funnelSeed);

beforeAll(async () => {
  origin = await api.consumer.app.listen({ host: '127.0.0.1', port: 0 });
});

async function openPage(): Promise<Page> {
  const context = await browser.newContext();
  return context.newPage();
}

function storeStats(groupBy: StatsQuery['groupBy'], limit: number): Promise<StatsItem[]> {
  return api.consumer.store.stats({ groupBy, limit });
}

/** What a row or bar says about its group, read from its data attributes. */
async function shown(page: Page, testId: string, keyAttribute: string): Promise<StatsItem[]> {
  return page.getByTestId(testId).evaluateAll(
    (elements, key) =>
      elements.map((e) => ({
        key: e.getAttribute(key),
        exposures: Number(e.getAttribute('data-exposures')),
        users: Number(e.getAttribute('data-users')),
      })),
    keyAttribute,
  );
}

async function waitForData(page: Page): Promise<void> {
  await page.locator('[data-testid="results"][data-state="ready"]').waitFor();
}

test('shows the totals, the hours and the top messages and categories the store counts', async () => {
  const [hours, messages, categories] = await Promise.all([storeStats('hour', 10_000), storeStats('message', 10), storeStats('category', 10)]);
  // The seed is what the brief asks of it, so the comparisons below are not vacuous.
  expect(hours.length).toBeGreaterThanOrEqual(3);
  expect(messages.length).toBeGreaterThanOrEqual(4);
  expect(categories.map((c) => c.key)).toEqual(expect.arrayContaining([null, 'news', 'sports']));

  const page = await openPage();
  await page.goto(`${origin}/#token=${await analystToken()}`);
  await waitForData(page);

  expect(await page.getByTestId('total-exposures').getAttribute('data-value')).toBe(String(hours.reduce((n, h) => n + h.exposures, 0)));
  expect(await page.getByTestId('hours-with-data').getAttribute('data-value')).toBe(String(hours.length));
  expect(await shown(page, 'hour-bar', 'data-hour')).toEqual(hours);
  expect(await shown(page, 'top-message-row', 'data-key')).toEqual(messages);
  expect(await shown(page, 'top-category-row', 'data-key')).toEqual(categories);

  // Keys are shown as text: the markup in a message id stays markup-free, a null category is "(direct)".
  const messageKeys = await page.locator('[data-testid="top-message-row"] td.key').allTextContents();
  expect(messageKeys).toEqual(messages.map((m) => m.key));
  expect(await page.locator('[data-testid="top-messages"] b').count()).toBe(0);
  expect(await page.locator('[data-testid="top-category-row"]:not([data-key]) td.key').textContent()).toBe('(direct)');

  // The token left the address bar once read.
  expect(page.url()).toBe(`${origin}/`);
  await page.context().close();
});

test('a token without exposures:read shows the API error code; a bad token shows UNAUTHORIZED', async () => {
  const page = await openPage();
  await page.goto(`${origin}/#token=${await analystToken('messages:write')}`);

  const error = page.getByTestId('error');
  await page.locator('[data-testid="error"][data-code="FORBIDDEN"]').waitFor();
  expect(await error.isVisible()).toBe(true);
  expect(await page.getByTestId('error-code').textContent()).toBe('FORBIDDEN');
  expect(await page.getByTestId('results').isVisible()).toBe(false);

  await page.locator('#token').fill('not-a-token');
  await page.getByRole('button', { name: 'Load' }).click();
  await page.locator('[data-testid="error"][data-code="UNAUTHORIZED"]').waitFor();
  expect(await page.getByTestId('error-code').textContent()).toBe('UNAUTHORIZED');
  await page.context().close();
});

test('is served under a strict content security policy and loads nothing from elsewhere', async () => {
  const page = await openPage();
  const requests: string[] = [];
  const problems: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && /content security policy/i.test(message.text())) problems.push(message.text());
  });

  const response = await page.goto(`${origin}/#token=${await analystToken()}`);
  await waitForData(page);

  const headers = response?.headers() ?? {};
  expect(headers['content-type']).toBe('text/html; charset=utf-8');
  expect(headers['cache-control']).toBe('no-store');
  const csp = headers['content-security-policy'] ?? '';
  expect(csp).toContain("default-src 'self'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).not.toContain('unsafe-inline');
  expect(csp).not.toMatch(/https?:/);

  expect(requests.map((url) => new URL(url).pathname)).toEqual(expect.arrayContaining(['/', '/dashboard.js', '/dashboard.css', '/v1/exposures/stats']));
  for (const url of requests) expect(url.startsWith(`${origin}/`)).toBe(true);
  expect(problems).toEqual([]);
  await page.context().close();
});

test('the dashboard is public and stays out of the OpenAPI document', async () => {
  const page = await api.consumer.app.inject({ method: 'GET', url: '/' });
  expect(page.statusCode).toBe(200);
  expect(page.body).toContain('<script src="/dashboard.js"');

  const doc = (await api.consumer.app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, unknown> };
  expect(Object.keys(doc.paths)).toContain('/v1/exposures/stats');
  for (const path of ['/', '/dashboard.js', '/dashboard.css']) expect(doc.paths).not.toHaveProperty([path]);
});

/** What the funnel panel shows per step: its value and rate, read from data attributes. */
async function funnelShown(page: Page): Promise<Record<string, { value: number; rate: string | null }>> {
  const steps = await page.getByTestId('funnel-step').evaluateAll((elements) =>
    elements.map((e) => [e.getAttribute('data-step'), { value: Number(e.getAttribute('data-value')), rate: e.getAttribute('data-rate') }] as const),
  );
  return Object.fromEntries(steps);
}

test('shows the funnel with its rates, per category and for one message, and the lifecycle counts', async () => {
  const page = await openPage();
  await page.goto(`${origin}/#token=${await analystToken()}`);
  await waitForData(page);

  const all = await api.consumer.funnels.funnel({ groupBy: 'category' });
  const shown = await funnelShown(page);
  for (const step of ['sent', 'delivered', 'opened', 'clicked', 'dismissed', 'expired', 'dropped', 'pending'] as const) {
    expect({ step, value: shown[step].value }).toEqual({ step, value: all.totals[step] });
  }
  expect(shown.delivered).toEqual({ value: 12, rate: String(12 / 22) });
  expect(shown.pending.value).toBe(6);
  const rows = await page.getByTestId('funnel-category-row').evaluateAll((elements) =>
    elements.map((e) => ({ key: e.getAttribute('data-key'), sent: e.getAttribute('data-sent'), delivered: e.getAttribute('data-delivered'), opened: e.getAttribute('data-opened') })),
  );
  expect(rows).toEqual([
    { key: null, sent: '2', delivered: '0', opened: '0' },
    { key: 'news', sent: '20', delivered: '12', opened: '6' },
  ]);
  const lifecycle = await Promise.all(['sent', 'scheduled', 'replaced', 'updated', 'recalled'].map((name) => page.getByTestId(`lifecycle-${name}`).getAttribute('data-value')));
  expect(lifecycle).toEqual(['2', '1', '2', '1', '1']);

  await page.locator('#message').fill('fun-1');
  await page.getByRole('button', { name: 'Load' }).click();
  await page.locator('#funnel-scope', { hasText: 'message fun-1' }).waitFor();
  await waitForData(page);
  expect(await funnelShown(page)).toEqual({
    sent: { value: 20, rate: null },
    delivered: { value: 12, rate: String(12 / 20) },
    opened: { value: 6, rate: '0.5' },
    clicked: { value: 2, rate: String(2 / 12) },
    dismissed: { value: 0, rate: '0' },
    expired: { value: 3, rate: String(3 / 20) },
    dropped: { value: 1, rate: String(1 / 20) },
    pending: { value: 4, rate: String(4 / 20) },
  });
  await page.context().close();
});
