/** PUT/GET /v1/users/{userId}/categories against a real redis-server. */
import { keys } from '@herald/redis';
import { MAX_CATEGORIES_PER_USER } from '../src/routes/categories';
import { bearer, expectNoWrites, expectRefusal, sharedIngest } from './harness';

const stack = sharedIngest();

function put(userId: string, body: unknown, token = stack.tokens.categories) {
  return stack.ingest.app.inject({
    method: 'PUT',
    url: `/v1/users/${userId}/categories`,
    headers: bearer(token),
    payload: body as object,
  });
}

function get(userId: string, token = stack.tokens.categories) {
  return stack.ingest.app.inject({ method: 'GET', url: `/v1/users/${userId}/categories`, headers: bearer(token) });
}

const members = async (category: string) => (await stack.redis.smembers(keys.categoryMembers(category))).sort();

describe('round trip', () => {
  it('PUT replaces the set (204, no body) and GET returns it sorted', async () => {
    const res = await put('round-trip', { categories: ['sports', 'news'] });
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');

    const read = await get('round-trip');
    expect(read.statusCode).toBe(200);
    expect(read.json()).toEqual({ userId: 'round-trip', categories: ['news', 'sports'] });
  });

  it("keeps each category's member set in line, removing the user from dropped categories", async () => {
    expect((await put('mover', { categories: ['alpha', 'beta'] })).statusCode).toBe(204);
    expect((await put('stayer', { categories: ['alpha'] })).statusCode).toBe(204);
    expect(await members('alpha')).toEqual(['mover', 'stayer']);
    expect(await members('beta')).toEqual(['mover']);

    expect((await put('mover', { categories: ['beta', 'gamma'] })).statusCode).toBe(204);
    expect(await members('alpha')).toEqual(['stayer']);
    expect(await members('beta')).toEqual(['mover']);
    expect(await members('gamma')).toEqual(['mover']);
    expect((await get('mover')).json().categories).toEqual(['beta', 'gamma']);
  });

  it('PUT [] leaves the user in no category', async () => {
    expect((await put('leaver', { categories: ['solo'] })).statusCode).toBe(204);
    expect((await put('leaver', { categories: [] })).statusCode).toBe(204);
    expect((await get('leaver')).json()).toEqual({ userId: 'leaver', categories: [] });
    expect(await members('solo')).toEqual([]);
  });

  it('accepts the widest valid names and MAX_CATEGORIES_PER_USER categories', async () => {
    const userId = 'x@y.z:1_2-3';
    const many = Array.from({ length: MAX_CATEGORIES_PER_USER }, (_, i) => `c.${String(i).padStart(3, '0')}:x_y-z`);
    expect((await put(encodeURIComponent(userId), { categories: many })).statusCode).toBe(204);
    const read = await get(encodeURIComponent(userId));
    expect(read.json()).toEqual({ userId, categories: many });
  });

  it('accepts a user id of the longest allowed length (128) in the path', async () => {
    const longId = 'u'.repeat(128);
    expect((await put(longId, { categories: ['long'] })).statusCode).toBe(204);
    expect((await get(longId)).json()).toEqual({ userId: longId, categories: ['long'] });
  });

  it('refuses a category list given as a nested array instead of coercing it', async () => {
    const res = await put('coerce-me', { categories: [['news']] });
    expect(res.statusCode).toBe(400);
    expect(await stack.redis.exists(keys.userCategories('coerce-me'))).toBe(0);
  });

  it('GET of a user without categories is 200 with []', async () => {
    const read = await get('never-seen');
    expect(read.statusCode).toBe(200);
    expect(read.json()).toEqual({ userId: 'never-seen', categories: [] });
  });
});

describe('refusals write nothing', () => {
  beforeAll(async () => {
    // Something to lose: a refused request must leave this user's categories as they are.
    expect((await put('existing', { categories: ['kept'] })).statusCode).toBe(204);
  });

  const tooMany = Array.from({ length: MAX_CATEGORIES_PER_USER + 1 }, (_, i) => `c${i}`);
  const bodies: Array<[string, unknown, string]> = [
    ['a bad category', { categories: ['ok', 'not ok'] }, 'INVALID_CATEGORY'],
    ['a category of 65 characters', { categories: ['c'.repeat(65)] }, 'INVALID_CATEGORY'],
    ['an empty category', { categories: [''] }, 'INVALID_CATEGORY'],
    ['a category that is not a string', { categories: [{ name: 'news' }] }, 'INVALID_CATEGORY'],
    ['repeated categories', { categories: ['a', 'a'] }, 'INVALID_BODY'],
    ['more than the maximum', { categories: tooMany }, 'INVALID_BODY'],
    ['categories missing', {}, 'INVALID_BODY'],
    ['categories as an object', { categories: { a: 1 } }, 'INVALID_BODY'],
    ['an unknown property', { categories: ['a'], replace: true }, 'INVALID_BODY'],
  ];

  it.each(bodies)('PUT 400 for %s', async (_name, body, code) => {
    await expectNoWrites(stack.redis, async () => {
      const res = await put('existing', body);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: { code, message: expect.any(String) } });
    });
    expect((await get('existing')).json().categories).toEqual(['kept']);
  });

  it.each([
    ['a space', 'bad%20id'],
    ['a slash', 'a%2Fb'],
    ['a character outside the set', 'caf%C3%A9'],
  ])('400 INVALID_USER_ID for a path user id with %s, on PUT and GET', async (_name, userId) => {
    await expectNoWrites(stack.redis, async () => {
      const putRes = await put(userId, { categories: ['news'] });
      expectRefusal(putRes, 400, 'INVALID_USER_ID');
      const getRes = await get(userId);
      expectRefusal(getRes, 400, 'INVALID_USER_ID');
    });
  });

  it('401 without a token or with a bad one, on PUT and GET', async () => {
    await expectNoWrites(stack.redis, async () => {
      const noToken = await stack.ingest.app.inject({
        method: 'PUT',
        url: '/v1/users/existing/categories',
        payload: { categories: [] },
      });
      expectRefusal(noToken, 401, 'UNAUTHORIZED');
      const bad = await put('existing', { categories: [] }, `${stack.tokens.categories}x`);
      expectRefusal(bad, 401, 'UNAUTHORIZED');
      const read = await stack.ingest.app.inject({ method: 'GET', url: '/v1/users/existing/categories' });
      expectRefusal(read, 401, 'UNAUTHORIZED');
    });
  });

  it('403 without categories:write (user token, messages:write token), on PUT and GET', async () => {
    await expectNoWrites(stack.redis, async () => {
      for (const token of [stack.tokens.user, stack.tokens.messages]) {
        const putRes = await put('existing', { categories: [] }, token);
        expectRefusal(putRes, 403, 'FORBIDDEN');
        const getRes = await get('existing', token);
        expectRefusal(getRes, 403, 'FORBIDDEN');
      }
    });
    expect((await get('existing')).json().categories).toEqual(['kept']);
  });
});
