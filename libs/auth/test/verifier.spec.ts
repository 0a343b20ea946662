import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { loadIngestConfig } from '@herald/config';
import { signToken, TEST_JWT_SECRET } from '@herald/testing';
import { createVerifier, MAX_TOKEN_BYTES } from '../src';
import { reason } from './reason';

function authConfig(env: Record<string, string>) {
  return loadIngestConfig({ AUTH_CLOCK_TOLERANCE_SECONDS: '0', ...env });
}

describe('HS256 shared secret', () => {
  const verifier = createVerifier(authConfig({ AUTH_JWT_SECRET: TEST_JWT_SECRET, AUTH_ISSUER: 'herald', AUTH_AUDIENCE: 'push' }));
  const opts = { issuer: 'herald', audience: 'push' };

  it('returns the user id and scopes of a valid token', async () => {
    const p = await verifier.verify(await signToken('alice', { ...opts, scope: 'messages:write exposures:read' }));
    expect(p.userId).toBe('alice');
    expect([...p.scopes].sort()).toEqual(['exposures:read', 'messages:write']);
    expect(p.exp).toBeGreaterThan(Date.now() / 1000);
  });

  it('refuses each kind of bad token with its reason', async () => {
    expect(await reason(verifier.verify(undefined))).toBe('missing');
    expect(await reason(verifier.verify('abc'))).toBe('malformed');
    expect(await reason(verifier.verify('x'.repeat(MAX_TOKEN_BYTES + 1)))).toBe('too_large');
    expect(await reason(verifier.verify(await signToken('a', { ...opts, secret: 'w'.repeat(40) })))).toBe('signature');
    expect(await reason(verifier.verify(await signToken('a', { ...opts, expiresIn: Math.floor(Date.now() / 1000) - 5 })))).toBe(
      'expired',
    );
    expect(await reason(verifier.verify(await signToken('a', { ...opts, issuer: 'other' })))).toBe('claim');
    expect(await reason(verifier.verify(await signToken('a', { ...opts, audience: 'other' })))).toBe('claim');
    expect(await reason(verifier.verify(await signToken(undefined, opts)))).toBe('subject');
    const notYet = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('a')
      .setIssuer('herald')
      .setAudience('push')
      .setNotBefore(Math.floor(Date.now() / 1000) + 600)
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    expect(await reason(verifier.verify(notYet))).toBe('not_yet_valid');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"a"}').toString('base64url')}.`;
    expect(await reason(verifier.verify(none))).toBe('algorithm');
  });
});

describe('JWKS URL', () => {
  let server: Server;
  let keys: JWK[] = [];
  let fetches = 0;
  let url: string;
  let privateKey: CryptoKey;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey as CryptoKey;
    keys = [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }];
    server = createServer((_req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/jwks.json`;
  });

  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const rs = (kid: string, key: CryptoKey, sub = 'bob') =>
    new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid }).setSubject(sub).setExpirationTime('5m').sign(key);

  it('verifies RS256 tokens against the key set and caches the keys', async () => {
    const verifier = createVerifier(authConfig({ AUTH_JWKS_URL: url }));
    expect((await verifier.verify(await rs('k1', privateKey))).userId).toBe('bob');
    const before = fetches;
    expect((await verifier.verify(await rs('k1', privateKey, 'carol'))).userId).toBe('carol');
    expect(fetches).toBe(before);
  });

  it('refuses an unknown key and an HS256 token signed with the public key', async () => {
    const verifier = createVerifier(authConfig({ AUTH_JWKS_URL: url }));
    const other = (await generateKeyPair('RS256')).privateKey as CryptoKey;
    expect(await reason(verifier.verify(await rs('k1', other)))).toBe('signature');
    expect(await reason(verifier.verify(await rs('unknown', other)))).toBe('signature');
    const confused = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setSubject('mallory')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(JSON.stringify(keys[0])));
    expect(await reason(verifier.verify(confused))).toBe('algorithm');
  });

  it('calls a key set it cannot get unavailable, not the token malformed', async () => {
    let flakyUp = false;
    const failing = createServer((req, res) => {
      if (req.url === '/flaky' && flakyUp) {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys }));
      } else if (req.url === '/500' || req.url === '/flaky') {
        res.statusCode = 500;
        res.end('oops');
      } else {
        res.setHeader('content-type', 'application/json');
        res.end('{"not":"a key set"}');
      }
    });
    await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(failing.address() as { port: number }).port}`;
    // A port nothing listens on: the one the server had, once closed.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedUrl = `http://127.0.0.1:${(closed.address() as { port: number }).port}/jwks.json`;
    await new Promise<void>((r) => closed.close(() => r()));
    try {
      const token = await rs('k1', privateKey);
      for (const jwksUrl of [`${base}/500`, `${base}/not-a-set`, closedUrl]) {
        const verifier = createVerifier(authConfig({ AUTH_JWKS_URL: jwksUrl }));
        expect([jwksUrl, await reason(verifier.verify(token))]).toEqual([jwksUrl, 'unavailable']);
      }
      // Once the set is back, the same verifier verifies.
      const verifier = createVerifier(authConfig({ AUTH_JWKS_URL: `${base}/flaky` }));
      expect(await reason(verifier.verify(token))).toBe('unavailable');
      flakyUp = true;
      expect((await verifier.verify(token)).userId).toBe('bob');
    } finally {
      await new Promise<void>((r) => failing.close(() => r()));
    }
  });
});
