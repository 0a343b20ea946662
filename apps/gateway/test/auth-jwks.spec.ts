/**
 * The JWKS behind the gateway's door (support-door.ts): the key set is fetched once and cached, a
 * flood of unknown kids costs one fetch per cooldown, a rotated key is picked up without a restart
 * and the old one dropped, and a key set that cannot be fetched answers 503 AUTH_UNAVAILABLE while
 * the cached keys keep working.
 */
import { randomUUID } from 'node:crypto';
import { countersByLabel, counterDelta, makeKey, rawUpgrade, signAsym } from './support-auth';
import { COOLDOWN_MS, cooldownOver, expectRefused, expectWelcome, REFUSED, sharedDoor, user, valid } from './support-door';

const door = sharedDoor();

describe('JWKS key cache', () => {
  // First in the file, so the gateway has not fetched the key set before.
  it('fetches the key set once for 20 connects with RS256 tokens', async () => {
    for (let i = 0; i < 20; i++) {
      const u = user();
      await expectWelcome(door, await signAsym(door.activeRs, valid(u)), 'header', u);
    }
    // Observed: one fetch in all, at the first RS256 token (jose loads the set lazily, then caches it).
    expect(door.jwks.fetches).toBe(1);
  });
});

describe('JWKS refetch for unknown kids', () => {
  it('a flood of 200 tokens with random unknown kids costs one fetch per cooldown, and all are refused', async () => {
    await cooldownOver(door);
    const fetchesBefore = door.jwks.fetches;
    const refusedBefore = await countersByLabel(door.h.adminUrl, REFUSED, 'reason');
    const tokens = await Promise.all(Array.from({ length: 200 }, () => signAsym(door.stranger, valid('flood'), randomUUID())));
    const started = Date.now();
    const answers = await Promise.all(tokens.map((t) => rawUpgrade(door.h.httpUrl, t, 'header', 15_000)));
    const elapsed = Date.now() - started;
    expect(answers.map((a) => a.status)).toEqual(Array(200).fill(401));
    expect(answers.every((a) => JSON.parse(a.body).error.code === 'UNAUTHORIZED' && a.closedByServer)).toBe(true);
    expect(counterDelta(refusedBefore, await countersByLabel(door.h.adminUrl, REFUSED, 'reason'))).toEqual({ signature: 200 });
    expect(door.h.gateway.hub.size).toBe(0);
    // Without the cooldown this would be 200 fetches. Observed: exactly 1 (the flood is answered in
    // ~130 ms, well within one cooldown window; every other kid waits on that one fetch or is
    // refused from the cached set). A flood slower than the cooldown may earn one more per window.
    const fetched = door.jwks.fetches - fetchesBefore;
    expect(fetched).toBeGreaterThanOrEqual(1);
    expect(fetched).toBeLessThanOrEqual(1 + Math.floor(elapsed / COOLDOWN_MS));
    if (elapsed < COOLDOWN_MS) expect(fetched).toBe(1);
  });

  it('picks up a rotated key without a restart once the cooldown has passed, and drops the old one', async () => {
    const rs2 = await makeKey('RS256', 'rs-2');
    const old = door.activeRs;
    const oldToken = (u: string) => signAsym(old, valid(u));
    const newToken = (u: string) => signAsym(rs2, valid(u));

    // A fetch now (an unknown kid after the cooldown), so the gateway is surely cooling down below.
    await cooldownOver(door);
    let fetches = door.jwks.fetches;
    await expectRefused(door, await signAsym(door.stranger, valid('a'), randomUUID()), 'header', 'signature');
    expect(door.jwks.fetches).toBe(fetches + 1);
    fetches = door.jwks.fetches;
    const fetchedAt = door.jwks.lastFetchAt;

    // Rotation at the issuer: the new key is served, the old one is gone.
    door.jwks.serve([rs2.publicJwk, door.es1.publicJwk]);

    // Within the cooldown the gateway does not fetch again: the new key is not known yet, the old
    // one still is (cached).
    await expectRefused(door, await newToken('a'), 'header', 'signature');
    const u1 = user();
    await expectWelcome(door, await oldToken(u1), 'header', u1);
    expect(Date.now()).toBeLessThan(fetchedAt + COOLDOWN_MS); // all of the above happened within the cooldown
    expect(door.jwks.fetches).toBe(fetches);

    // Once the cooldown has passed, the new kid makes the gateway fetch the set again: one fetch.
    await cooldownOver(door);
    const u2 = user();
    await expectWelcome(door, await newToken(u2), 'query', u2);
    expect(door.jwks.fetches).toBe(fetches + 1);
    door.activeRs = rs2;

    // The refreshed set no longer has the old key: its tokens are refused (within the new
    // cooldown, without another fetch); the ES256 key that stayed still works.
    await expectRefused(door, await oldToken('a'), 'header', 'signature');
    const u3 = user();
    await expectWelcome(door, await signAsym(door.es1, valid(u3)), 'header', u3);
    expect(door.jwks.fetches).toBe(fetches + 1);
  });
});

describe('key set unavailable', () => {
  it('refuses with 503 AUTH_UNAVAILABLE, counted as unavailable (not as a malformed token); keys already cached keep working', async () => {
    await cooldownOver(door);
    door.jwks.failWith(503);
    try {
      const fetches = door.jwks.fetches;
      // A kid the gateway does not know makes it fetch the set, which fails.
      await expectRefused(door, await signAsym(door.stranger, valid('a'), randomUUID()), 'header', 'unavailable');
      expect(door.jwks.fetches).toBe(fetches + 1);
      // Keys already cached keep working while the set cannot be fetched.
      const u = user();
      await expectWelcome(door, await signAsym(door.activeRs, valid(u)), 'header', u);
      expect(door.jwks.fetches).toBe(fetches + 1);
    } finally {
      door.jwks.failWith(undefined);
    }
  });
});
