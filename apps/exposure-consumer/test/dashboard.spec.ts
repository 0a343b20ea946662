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

let browser: Browser;
let origin: string;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

const api = sharedAnalystApi(events);

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
