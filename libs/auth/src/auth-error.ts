/** Why a token is refused: the reasons every door logs and counts, and jose's errors mapped onto them. */

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

/** A jose error as Herald's refusal reason. */
export function toAuthError(err: unknown): AuthError {
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
