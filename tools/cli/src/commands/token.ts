/** `herald token`: mint a development token for a user, or for a producer or analyst with scopes. */
import { isUserId } from '@herald/types';
import type { Command } from '../command';
import { usageError } from '../cli-error';
import { ALL_SCOPES, devSecret, mintToken, parseScopes } from '../dev-tokens';

export const tokenCommand: Command = {
  name: 'token',
  summary: 'mint a development token for a user or a producer/analyst scope (dev secret only)',
  help: `Usage: herald token <subject> [--scope <scopes>] [--expires-in <span>]

Mints a JWT signed with the development secret and prints it (nothing else) on stdout:
  herald token alice                                   a user token: connect as alice
  herald token my-service --scope messages:write       a producer token
  herald token ops --scope all                         every scope (${ALL_SCOPES.join(', ')})

Only signs with a development secret, the kind \`npm run dev\` generates (it starts with
"dev-only-"); any other secret is refused with exit code 3.

Options:
  --scope <scopes>     comma- or space-separated scopes, or "all"; without it, a user token
  --expires-in <span>  lifetime: 90 (seconds), 90s, 15m, 1h, 7d (default 1h)
  --secret <secret>    the dev secret (default: HERALD_DEV_SECRET, then AUTH_JWT_SECRET)
  --issuer <iss>       iss claim (default: AUTH_ISSUER)
  --audience <aud>     aud claim (default: AUTH_AUDIENCE)
  -h, --help           this help
`,
  options: {
    scope: { type: 'string' },
    'expires-in': { type: 'string' },
    secret: { type: 'string' },
    issuer: { type: 'string' },
    audience: { type: 'string' },
  },
  async run({ args, config, io }) {
    const [subject] = args.positional(['subject']);
    if (!isUserId(subject)) throw usageError(`subject "${subject}" is not a valid id (1-128 of A-Z a-z 0-9 _ - . : @)`);
    const scopeFlag = args.string('scope');
    const scope = scopeFlag === undefined ? undefined : parseScopes(scopeFlag);
    const secret = devSecret({ flag: args.string('secret'), config });
    const token = await mintToken({
      secret,
      subject,
      scope,
      expiresIn: args.string('expires-in') ?? '1h',
      issuer: args.string('issuer') ?? config.AUTH_ISSUER,
      audience: args.string('audience') ?? config.AUTH_AUDIENCE,
    });
    io.stdout.write(`${token}\n`);
  },
};
