/**
 * GET /v1/presence against a real redis-server: the scope, bad input refused (and nothing
 * written), one entry per asked id in the order asked, unknown users offline. Sessions are
 * written the way the gateways write them (@herald/redis presence); the gateways themselves are in
 * tools/dev/test/presence.spec.ts.
 */
import { beatPresence, closeRedis, createRedis, openPresence, presenceInstance, type HeraldRedis } from '@herald/redis';
import { signToken } from '@herald/testing';
import { Scope } from '@herald/types';
import { MAX_PRESENCE_USERS } from '../src/routes/presence';
import { bearer, expectNoWrites, expectRefusal, sharedIngest, snapshot } from './harness';

let gatewaySide: HeraldRedis | undefined;
let reader: string;
// Declared before the stack's hooks, so it runs before the stack stops its server.
afterAll(async () => {
  if (gatewaySide) await closeRedis(gatewaySide);
});
const stack = sharedIngest();

beforeAll(async () => {
  gatewaySide = createRedis(stack.config, 'commands', 'presence-test');
  reader = await signToken('presence-reader', { scope: Scope.PRESENCE_READ });
});

/** GET /v1/presence with `token` (the reader's by default; null: none). */
function get(query: string, token: string | null = reader) {
  return stack.ingest.app.inject({ method: 'GET', url: `/v1/presence${query}`, headers: token === null ? {} : bearer(token) });
}

describe('auth', () => {
  it('401 without a token, 403 without presence:read (producers, analysts, users), 200 with it', async () => {
    expectRefusal(await get('?userIds=a', null), 401, 'UNAUTHORIZED');
    const analyst = await signToken('analyst', { scope: Scope.EXPOSURES_READ });
    for (const token of [stack.tokens.messages, stack.tokens.categories, stack.tokens.user, analyst]) {
      expectRefusal(await get('?userIds=a', token), 403, 'FORBIDDEN');
    }
    const everything = await signToken('admin', { scope: `${Scope.MESSAGES_WRITE} ${Scope.PRESENCE_READ}` });
    expect((await get('?userIds=a', everything)).statusCode).toBe(200);
  });
});

describe('bad input', () => {
  it('refuses no ids, too many ids, repeated parameters with INVALID_QUERY and bad ids with INVALID_USER_ID, writing nothing', async () => {
    const tooMany = Array.from({ length: MAX_PRESENCE_USERS + 1 }, (_, i) => `u${i}`).join(',');
    const cases: Array<[string, string]> = [
      ['', 'INVALID_QUERY'],
      ['?userIds=', 'INVALID_QUERY'],
      ['?other=a', 'INVALID_QUERY'],
      ['?userIds=a&userIds=b', 'INVALID_QUERY'],
      [`?userIds=${tooMany}`, 'INVALID_QUERY'],
      ['?userIds=ok,bad%20id', 'INVALID_USER_ID'],
      ['?userIds=a,,b', 'INVALID_USER_ID'],
      ['?userIds=a,', 'INVALID_USER_ID'],
      [`?userIds=${'x'.repeat(129)}`, 'INVALID_USER_ID'],
      ['?userIds=caf%C3%A9', 'INVALID_USER_ID'],
    ];
    await expectNoWrites(stack.redis, async () => {
      for (const [query, code] of cases) {
        const res = await get(query);
        expect({ query, status: res.statusCode, code: res.json().error?.code }).toEqual({ query, status: 400, code });
      }
    });
    expect((await get('?userIds=ok,bad%20id')).json().error.message).toMatch(/^userIds\/1: /);
  });
});

describe('answers', () => {
  it('one entry per asked id, in the order asked: the sessions of live gateways, unknown users offline', async () => {
    const gw = presenceInstance('gw-a');
    const dead = presenceInstance('gw-dead');
    const writer = gatewaySide!;
    await beatPresence(writer, gw, 60_000);
    const at = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
    await openPresence(
      writer,
      gw,
      [
        { userId: 'p-alice', sessionId: 'phone', connectedAtMs: at + 1 },
        { userId: 'p-alice', sessionId: 'laptop', connectedAtMs: at },
        { userId: 'p-bob', sessionId: 'web', connectedAtMs: at },
      ],
      60_000,
    );
    // A session of a gateway instance that never beat (or died long ago) does not count.
    await openPresence(writer, dead, [{ userId: 'p-carol', sessionId: 'ghost', connectedAtMs: at }], 60_000);

    const res = await get('?userIds=p-nobody,p-bob,p-carol,p-alice,p-bob');
    expect(res.statusCode).toBe(200);
    const bob = { userId: 'p-bob', online: true, sessions: [{ sessionId: 'web', gatewayId: 'gw-a', connectedAt: '2026-01-02T03:04:05.678Z' }] };
    expect(res.json()).toEqual({
      presence: [
        { userId: 'p-nobody', online: false, sessions: [] },
        bob,
        { userId: 'p-carol', online: false, sessions: [] },
        {
          userId: 'p-alice',
          online: true,
          sessions: [
            { sessionId: 'laptop', gatewayId: 'gw-a', connectedAt: '2026-01-02T03:04:05.678Z' },
            { sessionId: 'phone', gatewayId: 'gw-a', connectedAt: '2026-01-02T03:04:05.679Z' },
          ],
        },
        bob,
      ],
    });
  });

  it(`takes ${MAX_PRESENCE_USERS} ids and the widest charset, and changes no data`, async () => {
    const ids = Array.from({ length: MAX_PRESENCE_USERS }, (_, i) => (i === 0 ? 'x@y.z:1_2-3' : `m${i}`));
    const before = await snapshot(stack.redis);
    const res = await get(`?userIds=${ids.map(encodeURIComponent).join(',')}`);
    expect(res.statusCode).toBe(200);
    const presence = res.json().presence as Array<{ userId: string; online: boolean }>;
    expect(presence.map((p) => p.userId)).toEqual(ids);
    expect(presence.every((p) => !p.online)).toBe(true);
    // The read of the live gateways is a script (Redis's clock), so it is not "no write command".
    expect(await snapshot(stack.redis)).toEqual(before);
  });
});
