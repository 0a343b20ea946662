/**
 * The gateway's door (DESIGN "The connection flow", step 1), proved against a running gateway
 * (support-door.ts): real HTTP upgrade requests, tokens in the header and in the query. Every bad
 * token gets HTTP 401 with the Contract body before the upgrade, is counted under its reason, and
 * leaves nothing behind; every good one is welcomed; a token expiring while connected closes the
 * session with 4001. The JWKS fetching behind the door: auth-jwks.spec.ts.
 */
import { MAX_TOKEN_BYTES } from '@herald/auth';
import { TEST_JWT_SECRET, TestClient, waitFor } from '@herald/testing';
import { flipSignature, rawUpgrade, signAsym, signHs256, unsignedToken } from './support-auth';
import { AUDIENCE, CARRIERS, expectRefused, expectWelcome, ISSUER, nowSeconds, sharedDoor, user, valid } from './support-door';

const door = sharedDoor();

describe('refused before the upgrade with 401', () => {
  const huge = (sub: string) => signHs256(TEST_JWT_SECRET, { ...valid(sub), extra: { pad: 'x'.repeat(MAX_TOKEN_BYTES) } });
  const cases: Array<[name: string, reason: string, make: () => Promise<string | undefined> | string | undefined]> = [
    ['no token', 'missing', () => undefined],
    ['an empty token', 'missing', () => ''],
    ['a token that is not a JWT', 'malformed', () => 'not-a-jwt'],
    ['a token of five segments with a readable header', 'malformed', async () => `${(await signHs256(TEST_JWT_SECRET, valid('a'))).split('.')[0]}.a.b.c.d`],
    ['an unsigned token (alg none)', 'algorithm', () => unsignedToken({ sub: 'mallory', iss: ISSUER, aud: AUDIENCE, exp: nowSeconds() + 300 })],
    ['an unsigned token (alg none) naming a kid of the JWKS', 'algorithm', () => {
      const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      return `${b64({ alg: 'none', kid: 'rs-1' })}.${b64({ sub: 'mallory', iss: ISSUER, aud: AUDIENCE, exp: nowSeconds() + 300 })}.`;
    }],
    // Algorithm confusion: HS256 whose HMAC key is the RSA public key. An HS256 token is only ever
    // checked against the shared secret, so the forgery fails as a bad signature.
    ['an HS256 token keyed with the RSA public key PEM', 'signature', () => signHs256(door.rs1.publicPem, valid('mallory'), 'rs-1')],
    ['an HS256 token keyed with the RSA public JWK', 'signature', () => signHs256(JSON.stringify(door.rs1.publicJwk), valid('mallory'), 'rs-1')],
    ['an HS256 token with a flipped signature character', 'signature', async () => flipSignature(await signHs256(TEST_JWT_SECRET, valid('a')))],
    ['an RS256 token with a flipped signature character', 'signature', async () => flipSignature(await signAsym(door.rs1, valid('a')))],
    ['an ES256 token with a flipped signature character', 'signature', async () => flipSignature(await signAsym(door.es1, valid('a')))],
    ['an HS256 token signed with another secret', 'signature', () => signHs256('another-secret-of-at-least-32-bytes!!', valid('a'))],
    ['an RS256 token with an unknown kid', 'signature', () => signAsym(door.stranger, valid('a'))],
    ['an RS256 token from a stranger key naming a known kid', 'signature', () => signAsym(door.stranger, valid('a'), 'rs-1')],
    ['an expired HS256 token', 'expired', () => signHs256(TEST_JWT_SECRET, { ...valid('a'), exp: nowSeconds() - 1 })],
    ['an expired RS256 token', 'expired', () => signAsym(door.rs1, { ...valid('a'), exp: nowSeconds() - 1 })],
    ['a token not yet valid (nbf in the future)', 'not_yet_valid', () => signHs256(TEST_JWT_SECRET, { ...valid('a'), nbf: nowSeconds() + 60 })],
    ['an ES256 token not yet valid', 'not_yet_valid', () => signAsym(door.es1, { ...valid('a'), nbf: nowSeconds() + 60 })],
    ['a token from another issuer', 'claim', () => signHs256(TEST_JWT_SECRET, { ...valid('a'), iss: 'https://evil.test/' })],
    ['a token with no issuer', 'claim', () => signHs256(TEST_JWT_SECRET, { sub: 'a', aud: AUDIENCE })],
    ['a token for another audience', 'claim', () => signHs256(TEST_JWT_SECRET, { ...valid('a'), aud: 'another-service' })],
    ['an RS256 token for another audience', 'claim', () => signAsym(door.rs1, { ...valid('a'), aud: 'another-service' })],
    ['a token over 8 KB (a huge claim)', 'too_large', async () => {
      const token = await huge('a');
      expect(token.length).toBeGreaterThan(MAX_TOKEN_BYTES);
      return token;
    }],
    ['a token with no sub', 'subject', () => signHs256(TEST_JWT_SECRET, { iss: ISSUER, aud: AUDIENCE })],
    ['a token whose sub has a space', 'subject', () => signHs256(TEST_JWT_SECRET, valid('alice smith'))],
    ['a token whose sub is 200 characters', 'subject', () => signHs256(TEST_JWT_SECRET, valid('u'.repeat(200)))],
    ['an RS256 token whose sub is a Redis key pattern', 'subject', () => signAsym(door.rs1, valid('u*}{'))],
  ];

  describe.each(CARRIERS)('token in the %s', (carrier) => {
    it.each(cases)('%s (reason %s)', async (_name, reason, make) => {
      await expectRefused(door, await make(), carrier, reason);
    });
  });
});

describe('accepted', () => {
  describe.each(CARRIERS)('token in the %s', (carrier) => {
    it('a valid HS256 token', async () => {
      const u = user();
      await expectWelcome(door, await signHs256(TEST_JWT_SECRET, valid(u)), carrier, u);
    });

    it('a valid RS256 token from the JWKS', async () => {
      const u = user();
      await expectWelcome(door, await signAsym(door.activeRs, valid(u)), carrier, u);
    });

    it('a valid ES256 token from the JWKS', async () => {
      const u = user();
      await expectWelcome(door, await signAsym(door.es1, valid(u)), carrier, u);
    });

    it('the longest token of at most 8 KB; the next longer one is refused as too large', async () => {
      const u = user();
      // A valid token padded with a claim of n characters; its length grows with n.
      const padded = (n: number) => signHs256(TEST_JWT_SECRET, { ...valid(u), extra: { pad: 'x'.repeat(n) } });
      let lo = 0; // fits
      let hi = MAX_TOKEN_BYTES; // does not fit
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if ((await padded(mid)).length <= MAX_TOKEN_BYTES) lo = mid;
        else hi = mid;
      }
      const longest = await padded(lo);
      const tooLong = await padded(hi);
      // base64url cannot make every length: the boundary is within a character or two of 8192.
      expect(longest.length).toBeGreaterThanOrEqual(MAX_TOKEN_BYTES - 1);
      expect(longest.length).toBeLessThanOrEqual(MAX_TOKEN_BYTES);
      expect(tooLong.length).toBeGreaterThan(MAX_TOKEN_BYTES);
      expect(tooLong.length).toBeLessThanOrEqual(MAX_TOKEN_BYTES + 2);
      await expectWelcome(door, longest, carrier, u);
      await expectRefused(door, tooLong, carrier, 'too_large');
    });
  });
});

describe('headers over the server limit', () => {
  it('answers a token far over 8 KB (past Node\'s 16 KB header limit) with 431 and the Contract body, holding nothing', async () => {
    const answer = await rawUpgrade(door.h.httpUrl, 'x'.repeat(20 * 1024), 'header');
    expect(answer.status).toBe(431);
    expect(JSON.parse(answer.body)).toEqual({ error: { code: 'HEADERS_TOO_LARGE', message: expect.any(String) } });
    expect(answer.closedByServer).toBe(true);
    expect(door.h.gateway.hub.size).toBe(0);
  });
});

describe('expiry while connected', () => {
  // The HS256 variant is in gateway.spec.ts ("closes with 4001 when the token expires while connected").
  it('closes with 4001 when an RS256 token from the JWKS expires', async () => {
    const u = user();
    const exp = nowSeconds() + 2;
    const client = await TestClient.connect(door.h.wsUrl, await signAsym(door.activeRs, { ...valid(u), exp }));
    expect((await client.waitForFrame('welcome')).userId).toBe(u);
    const code = await client.waitForClose(8000);
    expect(code).toBe(4001);
    // Not before the token expired (no clock tolerance), and not long after (one expiry sweep a second).
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);
    expect(Date.now()).toBeLessThan(exp * 1000 + 3000);
    await waitFor(() => door.h.gateway.hub.size === 0, { what: 'the session to be gone' });
    expect(await door.h.metric('herald_gateway_closes_total', 'code="4001"')).toBeGreaterThanOrEqual(1);
  });
});
