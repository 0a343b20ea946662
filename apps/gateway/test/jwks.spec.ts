import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { TestClient } from '@herald/testing';
import { startHarness, type Harness } from './harness';

let h: Harness;
let jwks: Server;
let privateKey: CryptoKey;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  privateKey = pair.privateKey as CryptoKey;
  const body = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'gw', alg: 'ES256' }] });
  jwks = createServer((_req, res) => res.setHeader('content-type', 'application/json').end(body));
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
  h = await startHarness({ AUTH_JWKS_URL: `http://127.0.0.1:${(jwks.address() as { port: number }).port}/keys` });
}, 60_000);

afterAll(async () => {
  await h?.close();
  await new Promise<void>((r) => jwks.close(() => r()));
}, 30_000);

it('accepts a token signed by a key from the JWKS URL and delivers to its user', async () => {
  const token = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'gw' }).setSubject('jwks-user').setExpirationTime('5m').sign(privateKey);
  const id = await h.send(['jwks-user'], { via: 'jwks' });
  const client = await TestClient.connect(h.wsUrl, token);
  expect((await client.waitForFrame('welcome')).userId).toBe('jwks-user');
  expect((await client.waitForMessages(1))[0].id).toBe(id);
  await client.close();
});

it('refuses a token signed by a key that is not in the set with 401', async () => {
  const stranger = (await generateKeyPair('ES256')).privateKey as CryptoKey;
  const token = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'gw' }).setSubject('x').setExpirationTime('5m').sign(stranger);
  expect((await TestClient.refusal(h.wsUrl, token)).status).toBe(401);
});
