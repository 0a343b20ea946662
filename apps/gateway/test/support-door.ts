/**
 * The door under test in auth-door.spec.ts and auth-jwks.spec.ts: one gateway that accepts both an
 * HS256 shared secret and RS256/ES256 keys from a real JWKS server on 127.0.0.1, checks iss and
 * aud and has no clock tolerance; and what those tests check of every answer at the door.
 */
import { randomUUID } from 'node:crypto';
import { TEST_JWT_SECRET, TestClient, waitFor } from '@herald/testing';
import { startHarness, type Harness } from './harness';
import { countersByLabel, counterDelta, makeKey, rawUpgrade, startJwksServer, type Carrier, type Claims, type JwksServer, type SigningKey } from './support-auth';

export const ISSUER = 'https://issuer.herald.test/';
export const AUDIENCE = 'herald-push';
/** Least time between two JWKS fetches for unknown kids. */
export const COOLDOWN_MS = 1000;
/** The JWKS server stamps a fetch when it has answered; the gateway a moment later, when it has read the answer. */
const STAMP_SLACK_MS = 250;
export const REFUSED = 'herald_gateway_connects_refused_total';
export const CARRIERS: Carrier[] = ['header', 'query'];

export interface Door {
  h: Harness;
  jwks: JwksServer;
  /** In the JWKS from the start. */
  rs1: SigningKey;
  es1: SigningKey;
  /** The RS256 key the JWKS serves now (rs1 until a rotation test replaces it). */
  activeRs: SigningKey;
  /** An RS256 key the JWKS never serves. */
  stranger: SigningKey;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);
export const valid = (sub: string): Claims => ({ sub, iss: ISSUER, aud: AUDIENCE });
export const user = () => `door-${randomUUID().slice(0, 8)}`;

/**
 * The door, shared by the tests of a file: keys made and the JWKS server and gateway started
 * before the first test, closed after the last; after each test, no session is left. The object
 * returned is filled in by that beforeAll, so read it inside tests and hooks only.
 */
export function sharedDoor(): Door {
  const door = {} as Door;
  beforeAll(async () => {
    [door.rs1, door.es1, door.stranger] = await Promise.all([makeKey('RS256', 'rs-1'), makeKey('ES256', 'es-1'), makeKey('RS256', 'rs-stranger')]);
    door.activeRs = door.rs1;
    door.jwks = await startJwksServer([door.rs1.publicJwk, door.es1.publicJwk]);
    door.h = await startHarness({
      // AUTH_JWT_SECRET is the harness's TEST_JWT_SECRET: both kinds of key at once.
      AUTH_JWKS_URL: door.jwks.url,
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_CLOCK_TOLERANCE_SECONDS: '0',
      AUTH_JWKS_COOLDOWN_MS: String(COOLDOWN_MS),
    });
    expect(door.h.config.AUTH_JWT_SECRET).toBe(TEST_JWT_SECRET);
  }, 60_000);

  afterAll(async () => {
    await door.h?.close();
    await door.jwks?.close();
  }, 30_000);

  afterEach(async () => {
    // Whatever a test opened is gone before the next one counts.
    await waitFor(async () => door.h.gateway.hub.size === 0 && (await door.h.metric('herald_gateway_connections')) === 0, {
      what: 'no session left',
    });
  });
  return door;
}

/** Resolves once the gateway may fetch the key set again (the cooldown since the last fetch is over). */
export function cooldownOver({ jwks }: Door): Promise<boolean> {
  return waitFor(() => jwks.lastFetchAt === 0 || Date.now() >= jwks.lastFetchAt + COOLDOWN_MS + STAMP_SLACK_MS, {
    timeoutMs: COOLDOWN_MS + STAMP_SLACK_MS + 5000,
    what: 'the JWKS cooldown to pass',
  });
}

/**
 * The upgrade is refused with 401 and the Contract body (503 AUTH_UNAVAILABLE when the key set
 * cannot be fetched: the token may be fine), counted under `reason`, and nothing is held.
 */
export async function expectRefused({ h }: Door, token: string | undefined, carrier: Carrier, reason: string): Promise<void> {
  const before = await countersByLabel(h.adminUrl, REFUSED, 'reason');
  const answer = await rawUpgrade(h.httpUrl, token, carrier);
  const [status, code] = reason === 'unavailable' ? [503, 'AUTH_UNAVAILABLE'] : [401, 'UNAUTHORIZED'];
  expect(answer.status).toBe(status);
  expect(answer.headers['upgrade']).toBeUndefined();
  expect(answer.headers['sec-websocket-accept']).toBeUndefined();
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  expect(JSON.parse(answer.body)).toEqual({ error: { code, message: expect.any(String) } });
  expect(answer.closedByServer).toBe(true);
  expect(h.gateway.hub.size).toBe(0);
  expect(await h.metric('herald_gateway_connections')).toBe(0);
  // One refusal, under this reason and no other.
  expect(counterDelta(before, await countersByLabel(h.adminUrl, REFUSED, 'reason'))).toEqual({ [reason]: 1 });
}

/** The upgrade succeeds and the first frame is `welcome` for `userId`. */
export async function expectWelcome({ h }: Door, token: string, carrier: Carrier, userId: string): Promise<void> {
  const client = await TestClient.connect(h.wsUrl, token, { viaQuery: carrier === 'query' });
  const welcome = await client.waitForFrame('welcome');
  expect(client.frames[0]).toBe(welcome);
  expect(welcome.userId).toBe(userId);
  await client.close();
}
