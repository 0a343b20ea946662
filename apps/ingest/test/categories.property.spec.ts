/**
 * Property-based tests (fast-check) of PUT and GET /v1/users/{userId}/categories against a real
 * redis-server: random user ids (path segments), bodies, content types, methods and tokens.
 * Whatever arrives, the answer is a 2xx or a 4xx (never a 5xx), every 4xx carries the Contract
 * error body with the status its code has in the codes table, a refused request or a read leaves
 * Redis exactly as it was (support/property-stack.ts), and a 204 stores exactly the set sent.
 *
 * A failure prints fast-check's seed and counterexample; replay it with `{ seed, path }` in fcOptions.
 */
import fc from 'fast-check';
import { keys } from '@herald/redis';
import { expectContractAnswer } from '@herald/testing';
import { isUserId, Scope } from '@herald/types';
import { MAX_CATEGORIES_PER_USER } from '../src/routes/categories';
import { bearer } from './harness';
import { anythingJsonText, anyText, categoryArb, contentTypeArb, jsonArb, rawBodyText, segmentArb, tokenFor } from './support/property-arbitraries';
import { before, expectNoWrites, parseJson, sharedPropertyIngest } from './support/property-stack';
import { authHeader, grants, signed } from './support/property-tokens';

const fcOptions = { numRuns: 150 };

const stack = sharedPropertyIngest();

describe('PUT and GET /v1/users/{userId}/categories', () => {
  const categoriesBody = fc.oneof(
    { weight: 8, arbitrary: fc.uniqueArray(categoryArb, { maxLength: 6 }).map((categories) => JSON.stringify({ categories })) },
    { weight: 2, arbitrary: fc.array(fc.oneof(categoryArb, fc.constant('news')), { maxLength: 6 }).map((categories) => JSON.stringify({ categories })) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: MAX_CATEGORIES_PER_USER - 1, max: MAX_CATEGORIES_PER_USER + 1 }).map((n) =>
        JSON.stringify({ categories: Array.from({ length: n }, (_, i) => `c${i}`) }),
      ),
    },
    { weight: 2, arbitrary: fc.record({ categories: fc.array(fc.oneof(anyText(70), jsonArb), { maxLength: 4 }) }).map((v) => JSON.stringify(v)) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.record({ categories: jsonArb }, { requiredKeys: [] }),
          fc.dictionary(fc.oneof(anyText(10), fc.constantFrom('__proto__', 'categories', 'userId')), jsonArb, { maxKeys: 2 }),
        )
        .map(([a, b]) => JSON.stringify({ ...b, ...a })),
    },
    { weight: 1, arbitrary: anythingJsonText },
    { weight: 1, arbitrary: rawBodyText },
  );

  it('answers any user id, body and token with 2xx or a Contract 4xx; a 204 stores exactly the set sent', async () => {
    await fc.assert(
      fc.asyncProperty(
        tokenFor(Scope.CATEGORIES_WRITE),
        fc.constantFrom('PUT', 'PUT', 'PUT', 'PUT', 'GET', 'GET', 'DELETE', 'POST'),
        segmentArb,
        categoriesBody,
        fc.oneof({ weight: 4, arbitrary: fc.constant<string | undefined>('application/json') }, { weight: 1, arbitrary: contentTypeArb }),
        async (token, method, segment, text, contentType) => {
          let userId: string | undefined;
          try {
            userId = decodeURIComponent(segment);
          } catch {
            userId = undefined;
          }
          const valid = userId !== undefined && isUserId(userId) ? userId : undefined;
          const previous = valid === undefined ? [] : await stack.redis.smembers(keys.userCategories(valid));

          const prior = await before(stack);
          const headers: Record<string, string> = { ...authHeader(token) };
          if (method === 'PUT' && contentType !== undefined) headers['content-type'] = contentType;
          const res = await stack.ingest.app.inject({
            method: method as 'PUT' | 'GET' | 'DELETE' | 'POST',
            url: `/v1/users/${segment}/categories`,
            headers,
            ...(method === 'PUT' ? { payload: text } : {}),
          });
          expectContractAnswer(res);
          if (!grants(token.kind, Scope.CATEGORIES_WRITE)) expect(res.statusCode).toBeGreaterThanOrEqual(400);

          if (res.statusCode >= 400) {
            await expectNoWrites(stack, prior);
            return;
          }
          expect(valid).toBeDefined();
          if (method === 'GET') {
            expect(res.statusCode).toBe(200);
            expect(res.json()).toEqual({ userId: valid, categories: [...previous].sort() });
            await expectNoWrites(stack, prior);
            return;
          }
          expect(method).toBe('PUT');
          expect(res.statusCode).toBe(204);
          expect(res.body).toBe('');
          const sent = [...new Set((parseJson(text) as { categories: string[] }).categories)].sort();
          const read = await stack.ingest.app.inject({ method: 'GET', url: `/v1/users/${segment}/categories`, headers: bearer(signed.categories!) });
          expect(read.statusCode).toBe(200);
          expect(read.json()).toEqual({ userId: valid, categories: sent });
          for (const category of sent) expect(await stack.redis.sismember(keys.categoryMembers(category), valid!)).toBe(1);
          for (const category of previous.filter((c) => !sent.includes(c))) {
            expect(await stack.redis.sismember(keys.categoryMembers(category), valid!)).toBe(0);
          }
        },
      ),
      fcOptions,
    );
  });
});
