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

it('without a VAPID key (Web Push off) the push-subscription routes answer 404 WEBPUSH_DISABLED, token or not', async () => {
  expect(h.config.WEBPUSH_VAPID_PUBLIC_KEY).toBeUndefined();
  const key = await get(`${h.httpUrl}/v1/push-subscriptions/vapid-public-key`);
  const post = await fetch(`${h.httpUrl}/v1/push-subscriptions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  const del = await fetch(`${h.httpUrl}/v1/push-subscriptions/abc`, { method: 'DELETE' });
  for (const res of [{ status: key.status, body: JSON.parse(key.text) as unknown }, { status: post.status, body: await post.json() }, { status: del.status, body: await del.json() }]) {
    expect(res).toEqual({ status: 404, body: { error: { code: 'WEBPUSH_DISABLED', message: expect.any(String) } } });
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

it('/docs/json on the public port describes the Web Push subscription routes (bearer on the user routes, their refusals)', async () => {
  const res = await get(`${h.httpUrl}/docs/json`);
  expect(res.status).toBe(200);
  const doc = JSON.parse(res.text) as { info: { title: string }; paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown>; requestBody?: { content: Record<string, { schema: { required: string[] } }> } }>> };
  expect(doc.info.title).toBe('Herald gateway');
  const key = doc.paths['/v1/push-subscriptions/vapid-public-key'].get;
  expect(key.security).toBeUndefined();
  const post = doc.paths['/v1/push-subscriptions'].post;
  expect(post.security).toEqual([{ bearer: [] }]);
  expect(post.requestBody?.content['application/json'].schema.required).toEqual(['endpoint', 'keys']);
  expect(Object.keys(post.responses)).toEqual(['201', '400', '401', '404', '409', '413']);
  const del = doc.paths['/v1/push-subscriptions/{id}'].delete;
  expect(del.security).toEqual([{ bearer: [] }]);
  expect(Object.keys(del.responses)).toEqual(['204', '401', '404']);
});
