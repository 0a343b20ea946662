/**
 * `PUT` and `GET /v1/users/{userId}/categories` (Contract): a user's category memberships.
 * Both take the scope `categories:write`: the Contract has no read scope for categories, and the
 * producers who set memberships are the ones who need to read them back; user tokens (no scope)
 * can neither read nor change them.
 */
import type { FastifyInstance } from 'fastify';
import { requireScope } from '@herald/http';
import { getUserCategories, replaceUserCategories } from '@herald/redis';
import { Scope } from '@herald/types';
import type { RouteDeps } from './deps';
import { BEARER, categorySchema, errorResponses, userIdSchema } from './schemas';
import { schemaErrors } from './schema-errors';

/** Most categories one user may belong to; bounds the replace script and the welcome frame. */
export const MAX_CATEGORIES_PER_USER = 100;

const PATH = '/v1/users/:userId/categories';

interface UserParams {
  userId: string;
}

const paramsSchema = {
  type: 'object',
  required: ['userId'],
  properties: { userId: userIdSchema },
} as const;

const categoriesSchema = {
  type: 'array',
  maxItems: MAX_CATEGORIES_PER_USER,
  uniqueItems: true,
  items: categorySchema,
} as const;

const errorFormatter = schemaErrors([
  { in: 'params', path: /^\/userId$/, code: 'INVALID_USER_ID' },
  { in: 'body', path: /^\/categories\/\d+$/, code: 'INVALID_CATEGORY' },
]);

export function registerCategoryRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const log = deps.logger.child({ module: 'categories' });
  const auth = requireScope(deps.verifier, Scope.CATEGORIES_WRITE);

  app.put<{ Params: UserParams; Body: { categories: string[] } }>(
    PATH,
    {
      onRequest: auth,
      schema: {
        summary: "Replace a user's categories",
        description:
          `Replaces the whole set (0 to ${MAX_CATEGORIES_PER_USER} distinct names; [] leaves none), updates ` +
          "each category's member set and tells the user's connected gateways. Scope `categories:write`.",
        tags: ['categories'],
        security: BEARER,
        params: paramsSchema,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['categories'],
          properties: { categories: { ...categoriesSchema, description: 'The complete new set.' } },
        },
        response: {
          204: { description: 'Replaced.', type: 'null' },
          ...errorResponses(400, 401, 403, 413, 415),
        },
      },
      schemaErrorFormatter: errorFormatter,
    },
    async (request, reply) => {
      const { userId } = request.params;
      await replaceUserCategories(deps.redis, userId, request.body.categories);
      log.debug({ userId, categories: request.body.categories.length }, 'categories replaced');
      return reply.status(204).send();
    },
  );

  app.get<{ Params: UserParams }>(
    PATH,
    {
      onRequest: auth,
      schema: {
        summary: "Read a user's categories",
        description:
          'Scope `categories:write` (there is no read scope for categories: the producers who set them read them).',
        tags: ['categories'],
        security: BEARER,
        params: paramsSchema,
        response: {
          200: {
            description: "The user's categories, sorted; [] for a user with none or unknown to Herald.",
            type: 'object',
            required: ['userId', 'categories'],
            properties: { userId: userIdSchema, categories: categoriesSchema },
          },
          ...errorResponses(400, 401, 403),
        },
      },
      schemaErrorFormatter: errorFormatter,
    },
    async (request) => {
      const { userId } = request.params;
      return { userId, categories: await getUserCategories(deps.redis, userId) };
    },
  );
}
