/**
 * `herald webhooks listen` as a child process, without a stack: requests signed per Standard
 * Webhooks with the endpoint's secret print their events, one JSON line each, once per
 * webhook-id; a bad signature, another secret, an old timestamp or no signature is answered 401
 * and prints nothing; usage errors come before any listening.
 */
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { freePort, waitFor } from '@herald/testing';
import { herald, spawnHerald } from './support/cli-stack';

jest.setTimeout(30_000);

const secret = () => `whsec_${randomBytes(32).toString('base64')}`;

function signed(key: string, id: string, body: string, at = new Date()): Record<string, string> {
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(key).sign(id, at, body),
  };
}

it('prints the events of verified requests once per webhook-id and rejects the rest with 401', async () => {
  const key = secret();
  const port = await freePort();
  const child = spawnHerald(['webhooks', 'listen', '--port', String(port), '--secret', key, '--count', '3'], {});
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  await waitFor(() => stderr.includes(`listening on http://127.0.0.1:${port}/`), { what: `the listener (stderr: ${stderr})`, timeoutMs: 20_000 });
  const url = `http://127.0.0.1:${port}/hook`;
  const post = (headers: Record<string, string>, body: string) => fetch(url, { method: 'POST', headers, body }).then((r) => r.status);

  const batch = (events: object[]) => JSON.stringify({ type: 'herald.events', timestamp: new Date().toISOString(), data: { events } });
  const first = batch([{ kind: 'opened', eventId: 'e1' }, { kind: 'clicked', eventId: 'e2', action: 'buy' }]);
  const forged = batch([{ kind: 'opened', eventId: 'forged' }]);
  const tampered = signed(key, 'msg_t', first);
  expect(await post(tampered, forged)).toBe(401);
  expect(await post(signed(secret(), 'msg_other', forged), forged)).toBe(401);
  expect(await post(signed(key, 'msg_old', forged, new Date(Date.now() - 3600_000)), forged)).toBe(401);
  expect(await post({ 'content-type': 'application/json' }, forged)).toBe(401);
  expect(await post(signed(key, 'msg_1', first), first)).toBe(204);
  // Herald retrying a batch whose answer was lost: answered, not printed again.
  expect(await post(signed(key, 'msg_1', first), first)).toBe(204);
  const second = batch([{ kind: 'sent', eventId: 'e3' }]);
  expect(await post(signed(key, 'msg_2', second), second)).toBe(204);

  expect(await exited).toBe(0);
  expect(stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([
    { kind: 'opened', eventId: 'e1' },
    { kind: 'clicked', eventId: 'e2', action: 'buy' },
    { kind: 'sent', eventId: 'e3' },
  ]);
  expect(stderr.match(/^rejected /gm)).toHaveLength(4);
  expect(stdout).not.toContain('forged');
});

it('refuses a missing or malformed secret as a usage error (exit 2) before listening', async () => {
  const none = await herald(['webhooks', 'listen', '--port', '0'], { env: {} });
  expect(none.code).toBe(2);
  expect(none.stderr).toContain('--secret whsec_');
  const bad = await herald(['webhooks', 'listen', '--port', '0', '--secret', 'not-a-secret'], { env: {} });
  expect(bad.code).toBe(2);
  expect(bad.stderr).not.toContain('listening');
});
