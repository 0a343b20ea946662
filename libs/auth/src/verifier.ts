/**
 * Token verification for every door (WebSocket upgrade, producer and analyst APIs): HS256 with a
 * shared secret and/or RS256/ES256 keys from a JWKS URL, an algorithm allow-list, exp/nbf with a
 * clock tolerance, iss/aud when configured. `sub` is the user id.
 */
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { AuthConfig } from '@herald/config';
import { isUserId, type Scope } from '@herald/types';

/** Tokens longer than this are refused unread. */
export const MAX_TOKEN_BYTES = 8 * 1024;
const ASYMMETRIC_ALGS = ['RS256', 'ES256'];

export type AuthFailure =
  | 'missing'
  | 'too_large'
  | 'malformed'
  | 'algorithm'
  | 'signature'
  | 'expired'
  | 'not_yet_valid'
  | 'claim'
  | 'subject'
  | 'unavailable';

export class AuthError extends Error {
  readonly code = 'UNAUTHORIZED';
  constructor(readonly reason: AuthFailure, message: string) {
    super(message);
    this.name = 'AuthError';
  }
}

export interface Principal {
  /** `sub`: the user id. */
  userId: string;
  scopes: ReadonlySet<string>;
  /** Expiry in epoch seconds, when the token has one. */
  exp?: number;
}

export interface TokenVerifier {
  verify(token: string | undefined | null): Promise<Principal>;
}

function toAuthError(err: unknown): AuthError {
  const code = (err as { code?: string }).code;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return new AuthError('expired', 'token expired');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return (err as { claim?: string }).claim === 'nbf'
        ? new AuthError('not_yet_valid', 'token not yet valid')
        : new AuthError('claim', `token claim rejected: ${(err as { claim?: string }).claim ?? 'unknown'}`);
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return new AuthError('algorithm', 'token algorithm not allowed');
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new AuthError('signature', 'token signature invalid');
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return new AuthError('signature', 'no key matches the token');
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
      return new AuthError('unavailable', 'key set unavailable');
    default:
      return new AuthError('malformed', 'token malformed');
  }
}

export function createVerifier(config: AuthConfig): TokenVerifier {
  // Imported once: given raw bytes, jose imports a key on every verify (a tenth of a connect's cost).
  const secret = config.AUTH_JWT_SECRET
    ? globalThis.crypto.subtle.importKey('raw', new TextEncoder().encode(config.AUTH_JWT_SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, [
        'verify',
      ])
    : undefined;
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
  const common = {
    issuer: config.AUTH_ISSUER,
    audience: config.AUTH_AUDIENCE,
    clockTolerance: config.AUTH_CLOCK_TOLERANCE_SECONDS,
  };

  return {
    async verify(token) {
      if (!token) throw new AuthError('missing', 'token missing');
      if (token.length > MAX_TOKEN_BYTES) throw new AuthError('too_large', 'token too large');
      let alg: string | undefined;
      try {
        alg = decodeProtectedHeader(token).alg;
      } catch {
        throw new AuthError('malformed', 'token malformed');
      }
      let payload: JWTPayload;
      try {
        if (alg === 'HS256' && secret) {
          ({ payload } = await jwtVerify(token, await secret, { ...common, algorithms: ['HS256'] }));
        } else if (alg && ASYMMETRIC_ALGS.includes(alg) && jwks) {
          ({ payload } = await jwtVerify(token, jwks, { ...common, algorithms: ASYMMETRIC_ALGS }));
        } else {
          throw new AuthError('algorithm', 'token algorithm not allowed');
        }
      } catch (err) {
        throw err instanceof AuthError ? err : toAuthError(err);
      }
      if (!isUserId(payload.sub)) throw new AuthError('subject', 'token has no valid sub');
      const scope = typeof payload.scope === 'string' ? payload.scope : '';
      return { userId: payload.sub, scopes: new Set(scope.split(' ').filter(Boolean)), exp: payload.exp };
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
