/**
 * The gateway's public port faces the internet: it serves the WebSocket, /healthz and a /readyz
 * that says only ready or not. /metrics and the name and error of a failing dependency are on the
 * admin port (ADMIN_PORT) only (docs/SECURITY.md).
 */
import { waitFor } from '@herald/testing';
import { sharedHarness } from './harness';

const h = sharedHarness();

const get = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
};

it('the public port answers 404 for /metrics; the admin port serves it', async () => {
  expect(h.adminUrl).not.toBe(h.httpUrl);
  const publicMetrics = await get(`${h.httpUrl}/metrics`);
  expect(publicMetrics.status).toBe(404);
  expect(publicMetrics.text).not.toMatch(/herald_|process_cpu/);
  const adminMetrics = await get(`${h.adminUrl}/metrics`);
  expect(adminMetrics.status).toBe(200);
  expect(adminMetrics.text).toMatch(/^herald_gateway_connections \d+$/m);
  for (const base of [h.httpUrl, h.adminUrl]) {
    expect(await get(`${base}/healthz`)).toEqual({ status: 200, text: JSON.stringify({ status: 'ok' }) });
    expect(await get(`${base}/readyz`)).toEqual({ status: 200, text: JSON.stringify({ status: 'ready' }) });
  }
});

it('with Redis down, the public /readyz answers 503 without the error; the admin /readyz names it', async () => {
  await h.redisServer.stopServer();
  try {
    const publicReady = await waitFor(
      async () => {
        const r = await get(`${h.httpUrl}/readyz`);
        return r.status === 503 && r;
      },
      { timeoutMs: 20_000, what: 'the public /readyz to answer 503' },
    );
    expect(JSON.parse(publicReady.text)).toEqual({ status: 'not ready' });
    const adminReady = await get(`${h.adminUrl}/readyz`);
    expect(adminReady.status).toBe(503);
    expect(JSON.parse(adminReady.text)).toEqual({ status: 'not ready', failed: { redis: expect.stringMatching(/\S/) } });
  } finally {
    await h.redisServer.startServer();
  }
  await waitFor(async () => (await fetch(`${h.httpUrl}/readyz`)).status === 200, { timeoutMs: 20_000, what: 'ready again' });
}, 60_000);
