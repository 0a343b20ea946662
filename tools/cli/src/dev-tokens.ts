/**
 * Tokens signed with the development secret, and only with it: `herald token`, and the short-lived
 * tokens the other commands mint for themselves when no token is given.
 */
import { DEV_SECRET_PREFIX, isDevSecret } from '@herald/config';
import { Scope } from '@herald/types';
import type { CliConfig } from './config';
import { notConfigured, usageError } from './cli-error';

export interface DevSecretSource {
  /** --secret, which wins over the environment. */
  flag?: string;
  config: CliConfig;
}

/** The dev secret from --secret, HERALD_DEV_SECRET or AUTH_JWT_SECRET; refuses any other secret. */
export function devSecret({ flag, config }: DevSecretSource): string {
  const secret = flag ?? config.HERALD_DEV_SECRET ?? config.AUTH_JWT_SECRET;
  if (secret === undefined) {
    throw notConfigured(
      'no dev secret: `npm run dev` prints the one it generated (AUTH_JWT_SECRET dev-only-…) and leaves it in ' +
        '.herald/dev.json while it runs; pass it with --secret or set HERALD_DEV_SECRET',
    );
  }
  if (!isDevSecret(secret)) {
    throw notConfigured(
      `refusing to sign: the secret is not a development secret (it must start with "${DEV_SECRET_PREFIX}" and be ` +
        'at least 32 bytes, as the one `npm run dev` generates); tokens for real deployments come from your issuer',
    );
  }
  return secret;
}

export const ALL_SCOPES: readonly string[] = Object.values(Scope);

/** "messages:write,categories:write", "messages:write categories:write" or "all" -> the scope claim. */
export function parseScopes(raw: string): string {
  const scopes = raw === 'all' ? [...ALL_SCOPES] : raw.split(/[\s,]+/).filter(Boolean);
  if (scopes.length === 0) throw usageError('--scope needs at least one scope');
  for (const scope of scopes) {
    if (!ALL_SCOPES.includes(scope)) throw usageError(`unknown scope "${scope}"; scopes are ${ALL_SCOPES.join(', ')} (or all)`);
  }
  return [...new Set(scopes)].join(' ');
}

/** jose's time spans: 90, 90s, 15m, 1h, 7d. */
export const EXPIRES_IN = /^\d+(s|m|h|d)?$/;

export interface MintOptions {
  secret: string;
  subject: string;
  scope?: string;
  expiresIn: string;
  issuer?: string;
  audience?: string;
}

export async function mintToken(opts: MintOptions): Promise<string> {
  if (!EXPIRES_IN.test(opts.expiresIn)) throw usageError(`--expires-in must look like 90, 90s, 15m, 1h or 7d, got "${opts.expiresIn}"`);
  // Loaded when needed: `herald --help` and usage errors start faster without it.
  const { SignJWT } = await import('jose');
  const jwt = new SignJWT(opts.scope ? { scope: opts.scope } : {})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(opts.subject)
    .setIssuedAt()
    .setExpirationTime(/^\d+$/.test(opts.expiresIn) ? `${opts.expiresIn}s` : opts.expiresIn);
  if (opts.issuer) jwt.setIssuer(opts.issuer);
  if (opts.audience) jwt.setAudience(opts.audience);
  return jwt.sign(new TextEncoder().encode(opts.secret));
}

/** Subject of the tokens the CLI mints for its own API calls. */
export const CLI_SUBJECT = 'herald-cli';
/** Lifetime of those: long enough for one command, short enough to be worthless after. */
export const CLI_TOKEN_LIFETIME = '5m';

/**
 * The bearer token for an API call: --token, else HERALD_TOKEN, else one minted with the dev
 * secret for just the scope needed.
 */
export async function apiToken(args: { token?: string; secret?: string }, config: CliConfig, scope: string): Promise<string> {
  const given = args.token ?? config.HERALD_TOKEN;
  if (given) return given;
  let secret: string;
  try {
    secret = devSecret({ flag: args.secret, config });
  } catch (err) {
    throw notConfigured(`this needs a token with scope ${scope}: pass --token or set HERALD_TOKEN; or ${(err as Error).message}`);
  }
  return mintToken({
    secret,
    subject: CLI_SUBJECT,
    scope,
    expiresIn: CLI_TOKEN_LIFETIME,
    issuer: config.AUTH_ISSUER,
    audience: config.AUTH_AUDIENCE,
  });
}
