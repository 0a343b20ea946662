/**
 * The SDK in a real browser: the browser example (examples/browser, bundled by esbuild, served
 * over HTTP) in Debian's headless Chromium driven by playwright-core, against a real gateway that
 * only accepts WebSockets from the example's Origin. The page uses the browser's own WebSocket.
 */
import type { Browser, Page } from 'playwright-core';
import { freePort, launchChromium, signToken, waitFor } from '@herald/testing';
import { bundleExample, serveExample, type ExampleServer } from '../examples/browser/serve';
import { startClientStack, type ClientStack } from './support/client-stack';

jest.setTimeout(60_000);

let env: ClientStack;
let example: ExampleServer;
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
  example = await serveExample(await freePort());
  env = await startClientStack({ WS_ALLOWED_ORIGINS: new URL(example.url).origin });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await example?.close();
  await env?.stop();
}, 60_000);

function listedIds(page: Page): Promise<string[]> {
  return page.$$eval('#messages li', (items) => items.map((li) => li.getAttribute('data-id') ?? ''));
}

async function waitForListed(page: Page, n: number): Promise<string[]> {
  await page.waitForFunction(`document.querySelectorAll('#messages li').length >= ${n}`, undefined, { timeout: 15_000 });
  return listedIds(page);
}

it('bundles the SDK for the browser without the ws package or Node built-ins', async () => {
  const { js, inputs } = await bundleExample();
  expect(inputs).toContain('libs/client/src/herald-client.ts');
  expect(inputs.filter((p) => p.includes('node_modules'))).toEqual([]);
  // esbuild turns an import it cannot bundle for the browser into a __require() call.
  expect(js).not.toContain('__require');
  expect(js).not.toMatch(/from ["'](ws|node:\w+)["']/);
});

it('receives offline messages, then live ones, in headless Chromium, and acknowledges them', async () => {
  const user = `browser-${process.pid}-${Date.now()}`;
  const offline = [await env.send([user], { text: 'first' }), await env.send([user], { text: 'second <b>bold</b>' })];
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  const token = await signToken(user);
  await page.goto(`${example.url}#url=${encodeURIComponent(env.wsUrl())}&token=${token}`);

  expect(await waitForListed(page, 2)).toEqual(offline);
  expect(await page.textContent('#status')).toContain(`open as ${user}`);
  // Payloads are shown as text, never as markup.
  expect(await page.$$eval('#messages b', (bold) => bold.length)).toBe(0);
  expect(await page.textContent(`#messages li[data-id="${offline[1]}"]`)).toContain('second <b>bold</b>');

  const live = await env.send([user], { text: 'live' });
  expect(await waitForListed(page, 3)).toEqual([...offline, live]);
  await waitFor(async () => (await env.inbox(user)).length === 0, { what: 'the browser to acknowledge all three' });

  // The example page exposes its client as window.herald.
  const stats = (await page.evaluate('window.herald.stats')) as object;
  expect(stats).toMatchObject({ sessions: 1, messages: 3, duplicates: 0, idsAcked: 3 });
  expect(pageErrors).toEqual([]);
  await page.close();
});

it('reconnects in the browser after a gateway restart (1012) and receives what was sent meanwhile', async () => {
  const user = `browser-restart-${process.pid}-${Date.now()}`;
  const page = await browser.newPage();
  await page.goto(`${example.url}#url=${encodeURIComponent(env.wsUrl())}&token=${await signToken(user)}`);
  await page.waitForFunction(`document.getElementById('status').textContent.includes(${JSON.stringify(`open as ${user}`)})`, undefined, {
    timeout: 15_000,
  });
  await env.stopGateway();
  const meanwhile = await env.send([user], { text: 'sent while the gateway restarted' });
  await env.startGateway();
  expect(await waitForListed(page, 1)).toEqual([meanwhile]);
  expect(await page.evaluate('window.herald.stats.sessions')).toBe(2);
  await page.close();
});
