/** `herald categories get|set`: a user's categories through ingest's /v1/users/{id}/categories. */
import { isCategory, isUserId, Scope } from '@herald/types';
import type { Command } from '../command';
import { usageError } from '../cli-error';
import { apiToken } from '../dev-tokens';
import { callApi } from '../http';
import { ingestService } from '../services';

export const categoriesCommand: Command = {
  name: 'categories',
  summary: "get or set a user's categories (through ingest)",
  help: `Usage: herald categories get <userId> [--json]
       herald categories set <userId> <category>... | --none

get prints the user's categories, one per line (or {"userId","categories"} with --json).
set replaces the whole set (connected sessions see the change live) and prints the new set;
--none removes every category.

Options:
  --json             get: print the API's JSON
  --none             set: no categories at all
  --token <jwt>      token with scope categories:write (default: HERALD_TOKEN, else minted with the dev secret)
  --secret <secret>  dev secret to mint that token (default: HERALD_DEV_SECRET, then AUTH_JWT_SECRET)
  --ingest <url>     ingest's address (default: HERALD_INGEST_URL or http://127.0.0.1:8081)
  -h, --help         this help
`,
  options: {
    json: { type: 'boolean' },
    none: { type: 'boolean' },
    token: { type: 'string' },
    secret: { type: 'string' },
    ingest: { type: 'string' },
  },
  async run({ args, config, io }) {
    const [action, userId, ...categories] = args.positional(['get|set', 'userId'], { rest: true });
    if (action !== 'get' && action !== 'set') throw usageError(`herald categories: "${action}" is neither get nor set`);
    if (!isUserId(userId)) throw usageError(`"${userId}" is not a valid user id (1-128 of A-Z a-z 0-9 _ - . : @)`);
    const path = `v1/users/${encodeURIComponent(userId)}/categories`;
    const service = ingestService(args, config);
    const auth = { token: args.string('token'), secret: args.string('secret') };
    if (action === 'get') {
      if (categories.length > 0) throw usageError(`herald categories get: unexpected argument "${categories[0]}"`);
      const token = await apiToken(auth, config, Scope.CATEGORIES_WRITE);
      const res = await callApi<{ userId: string; categories: string[] }>(service, path, { token });
      io.stdout.write(args.flag('json') ? `${JSON.stringify(res.body)}\n` : res.body.categories.map((c) => `${c}\n`).join(''));
      return;
    }
    if (categories.length === 0 && !args.flag('none')) {
      throw usageError('herald categories set: name the categories, or pass --none to clear them');
    }
    if (categories.length > 0 && args.flag('none')) throw usageError('herald categories set: --none takes no categories');
    for (const c of categories) if (!isCategory(c)) throw usageError(`"${c}" is not a valid category (1-64 of A-Z a-z 0-9 _ - . :)`);
    const unique = [...new Set(categories)];
    const token = await apiToken(auth, config, Scope.CATEGORIES_WRITE);
    await callApi(service, path, { method: 'PUT', token, body: { categories: unique } });
    io.stdout.write(unique.map((c) => `${c}\n`).join(''));
  },
};
