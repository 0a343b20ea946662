/**
 * The development secret: what `npm run dev` generates for AUTH_JWT_SECRET when none is set
 * (printed at start, never for production). Its prefix marks it, so that tools which mint tokens
 * for development (`herald token`) can refuse to sign with any other secret.
 */
export const DEV_SECRET_PREFIX = 'dev-only-';

/** True for a secret that says it is for development only (and is long enough to be used at all). */
export function isDevSecret(secret: string | undefined): secret is string {
  return typeof secret === 'string' && secret.startsWith(DEV_SECRET_PREFIX) && Buffer.byteLength(secret) >= 32;
}
