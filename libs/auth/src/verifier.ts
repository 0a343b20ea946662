/**
 * Token verification for every door (WebSocket upgrade, producer and analyst APIs): HS256 with a
 * shared secret (node:crypto, hs256.ts) and/or RS256/ES256 keys from a JWKS URL (jose), an
 * algorithm allow-list, exp/nbf with a clock tolerance, iss/aud when configured. `sub` is the user
 * id. Verified principals are cached by token (verified-tokens.ts, AUTH_CACHE_MAX_TOKENS).
 */
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { AuthConfig } from '@herald/config';
import { isUserId, type Scope } from '@herald/types';
import { AuthError, toAuthError } from './auth-error';
import { verifyHs256, type ClaimRules } from './hs256';
import { VerifiedTokens } from './verified-tokens';

export { AuthError, type AuthFailure } from './auth-error';

/** Tokens longer than this are refused unread. */
export const MAX_TOKEN_BYTES = 8 * 1024;
const ASYMMETRIC_ALGS = ['RS256', 'ES256'];

export interface Principal {
  /** `sub`: the user id. */
  userId: string;
  scopes: ReadonlySet<string>;
  /** Expiry in epoch seconds, when the token has one. */
  exp?: number;
}

export interface TokenVerifier {
  verify(token: string | undefined | null): Promise<Principal>;
  /** Verifications answered from the cache of verified tokens. */
  readonly cacheHits: number;
}

export interface VerifierOptions {
  /** The clock, epoch ms (tests move it). */
  now?: () => number;
}

export function createVerifier(config: AuthConfig, options: VerifierOptions = {}): TokenVerifier {
  const now = options.now ?? Date.now;
  const secret = config.AUTH_JWT_SECRET ? Buffer.from(config.AUTH_JWT_SECRET) : undefined;
  const remote = config.AUTH_JWKS_URL
    ? createRemoteJWKSet(new URL(config.AUTH_JWKS_URL), {
        // An unknown kid refetches the set (key rotation), at most once per cooldown.
        cooldownDuration: config.AUTH_JWKS_COOLDOWN_MS,
        cacheMaxAge: config.AUTH_JWKS_CACHE_MAX_AGE_MS,
      })
    : undefined;
  // A key set that cannot be had (unreachable, not 200, unusable key) is `unavailable`, not the
  // token's fault; only "no key for this token" stays a signature failure.
  const jwks: JWTVerifyGetKey | undefined = remote
    ? async (header, token) => {
        try {
          return await remote(header, token);
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (code === 'ERR_JWKS_NO_MATCHING_KEY' || code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') throw err;
          throw new AuthError('unavailable', 'key set unavailable');
        }
      }
    : undefined;
  const rules: ClaimRules = {
    issuer: config.AUTH_ISSUER,
    audience: config.AUTH_AUDIENCE,
    clockTolerance: config.AUTH_CLOCK_TOLERANCE_SECONDS,
  };
  const cache = config.AUTH_CACHE_MAX_TOKENS > 0 ? new VerifiedTokens(config.AUTH_CACHE_MAX_TOKENS, now) : undefined;

  async function verifyUncached(token: string): Promise<Principal> {
    let header: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new AuthError('malformed', 'token malformed');
    }
    const alg = header.alg;
    let payload: JWTPayload;
    try {
      if (alg === 'HS256' && secret) {
        payload = verifyHs256(token, secret, header, rules, now());
      } else if (typeof alg === 'string' && ASYMMETRIC_ALGS.includes(alg) && jwks) {
        ({ payload } = await jwtVerify(token, jwks, { ...rules, algorithms: ASYMMETRIC_ALGS, currentDate: new Date(now()) }));
      } else {
        throw new AuthError('algorithm', 'token algorithm not allowed');
      }
    } catch (err) {
      throw err instanceof AuthError ? err : toAuthError(err);
    }
    if (!isUserId(payload.sub)) throw new AuthError('subject', 'token has no valid sub');
    const scope = typeof payload.scope === 'string' ? payload.scope : '';
    // Frozen: a cached principal is handed to every request with the same token.
    return Object.freeze({ userId: payload.sub, scopes: new Set(scope.split(' ').filter(Boolean)), exp: payload.exp });
  }

  return {
    async verify(token) {
      if (!token) throw new AuthError('missing', 'token missing');
      if (token.length > MAX_TOKEN_BYTES) throw new AuthError('too_large', 'token too large');
      const cached = cache?.get(token);
      if (cached) return cached;
      const principal = await verifyUncached(token);
      cache?.set(token, principal);
      return principal;
    },
    get cacheHits() {
      return cache?.hits ?? 0;
    },
  };
}

export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.has(scope);
}

/** The bearer token of an `Authorization` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}
