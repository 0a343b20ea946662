/** Tokens for tests, signed the way a real issuer would. */
import { SignJWT } from 'jose';

export const TEST_JWT_SECRET = 'herald-test-secret-0123456789abcdef0123456789';

export interface TokenOptions {
  secret?: string;
  scope?: string;
  expiresIn?: string | number;
  issuer?: string;
  audience?: string;
}

export function signToken(sub: string | undefined, opts: TokenOptions = {}): Promise<string> {
  const jwt = new SignJWT(opts.scope ? { scope: opts.scope } : {}).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  if (sub !== undefined) jwt.setSubject(sub);
  jwt.setExpirationTime(opts.expiresIn ?? '1h');
  if (opts.issuer) jwt.setIssuer(opts.issuer);
  if (opts.audience) jwt.setAudience(opts.audience);
  return jwt.sign(new TextEncoder().encode(opts.secret ?? TEST_JWT_SECRET));
}
