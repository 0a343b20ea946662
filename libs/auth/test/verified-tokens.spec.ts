/** The cache of verified tokens (src/verified-tokens.ts) as every door sees it, through createVerifier. */
import { loadIngestConfig } from '@herald/config';
import { signToken, TEST_JWT_SECRET } from '@herald/testing';
import { createVerifier } from '../src';
import { MAX_AGE_MS } from '../src/verified-tokens';
import { reason } from './reason';

const T0 = Date.now();

function verifierAt(clock: { now: number }, env: Record<string, string> = {}) {
  return createVerifier(
    loadIngestConfig({ AUTH_JWT_SECRET: TEST_JWT_SECRET, AUTH_CLOCK_TOLERANCE_SECONDS: '0', ...env }),
    { now: () => clock.now },
  );
}

describe('verified-token cache', () => {
  it('answers the same token from the cache, and nothing else', async () => {
    const clock = { now: T0 };
    const verifier = verifierAt(clock);
    const alice = await signToken('alice', { scope: 'messages:write' });
    expect((await verifier.verify(alice)).userId).toBe('alice');
    expect(verifier.cacheHits).toBe(0);
    const again = await verifier.verify(alice);
    expect(again.userId).toBe('alice');
    expect([...again.scopes]).toEqual(['messages:write']);
    expect(verifier.cacheHits).toBe(1);
    // Another token of the same user, and the cached token with one byte of its signature changed.
    expect((await verifier.verify(await signToken('alice', { scope: 'exposures:read' }))).scopes.has('exposures:read')).toBe(true);
    const flipped = alice.slice(0, -2) + (alice.at(-2) === 'A' ? 'B' : 'A') + alice.slice(-1);
    expect(await reason(verifier.verify(flipped))).toBe('signature');
    expect(verifier.cacheHits).toBe(1);
  });

  it('never serves a token at or after its exp', async () => {
    const clock = { now: T0 };
    const verifier = verifierAt(clock);
    const exp = Math.floor(T0 / 1000) + 10;
    const t = await signToken('bob', { expiresIn: exp });
    expect((await verifier.verify(t)).userId).toBe('bob');
    clock.now = exp * 1000 - 1;
    expect((await verifier.verify(t)).userId).toBe('bob');
    expect(verifier.cacheHits).toBe(1);
    clock.now = exp * 1000;
    expect(await reason(verifier.verify(t))).toBe('expired');
    expect(verifier.cacheHits).toBe(1);
  });

  it('verifies a token again after MAX_AGE_MS, whatever its exp', async () => {
    const clock = { now: T0 };
    const verifier = verifierAt(clock);
    const t = await signToken('carol', { expiresIn: Math.floor(T0 / 1000) + 3600 });
    await verifier.verify(t);
    clock.now = T0 + MAX_AGE_MS - 1;
    await verifier.verify(t);
    expect(verifier.cacheHits).toBe(1);
    clock.now = T0 + MAX_AGE_MS;
    await verifier.verify(t);
    expect(verifier.cacheHits).toBe(1);
    await verifier.verify(t);
    expect(verifier.cacheHits).toBe(2);
  });

  it('keeps at most AUTH_CACHE_MAX_TOKENS tokens, and none with 0', async () => {
    const clock = { now: T0 };
    const small = verifierAt(clock, { AUTH_CACHE_MAX_TOKENS: '2' });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((user) => signToken(user)));
    for (const t of [a, b, c, a]) await small.verify(t);
    expect(small.cacheHits).toBe(0);
    await small.verify(a);
    expect(small.cacheHits).toBe(1);
    const off = verifierAt(clock, { AUTH_CACHE_MAX_TOKENS: '0' });
    for (const t of [a, a, a]) await off.verify(t);
    expect(off.cacheHits).toBe(0);
  });

  it('does not cache refusals', async () => {
    const clock = { now: T0 };
    const verifier = verifierAt(clock);
    const wrong = await signToken('dave', { secret: 'w'.repeat(40) });
    expect(await reason(verifier.verify(wrong))).toBe('signature');
    expect(await reason(verifier.verify(wrong))).toBe('signature');
    expect(verifier.cacheHits).toBe(0);
  });
});
