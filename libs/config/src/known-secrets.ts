/**
 * Secrets that anyone can read in this repository (tests, examples, an old docker-compose.yml),
 * by SHA-256 so the list itself holds none. With NODE_ENV=production the apps refuse them as
 * AUTH_JWT_SECRET: whoever has the repository could mint tokens. libs/config/test/known-secrets
 * .spec.ts scans every tracked file for secret-looking values and fails on one missing here, so a
 * secret added later is refused too.
 */
import { createHash } from 'node:crypto';

export const KNOWN_PUBLIC_SECRET_SHA256: ReadonlySet<string> = new Set([
  // docker-compose.yml's default until compose required AUTH_JWT_SECRET (change-me-dev-secret-…)
  'e1bfcc79ef1f2d24313987534bc19ea9a5b75f0acd2427420efa9d2e4e0e8a1f',
  // TEST_JWT_SECRET, libs/testing/src/tokens.ts
  '83e9a3b60162323b9c4779530c48fbaf099b1094dcc4772989ae717c8fec003e',
  // wrong secrets the gateway, ingest and property tests sign with
  '268cd4650d851f18cc3ad82038e870e54945f7f5707a6c940d5840f226721e73',
  '5f270944aa9e015681854088a0e0210abf1045c58f60ebe9756d58e20aa2af99',
  'c43e7db56a9dd64b3b2dbc11d11ab6c0343e5ef67d89aa4f4de8db88c934a1fe',
]);

export const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

/** True for a secret published in this repository. */
export function isKnownPublicSecret(secret: string): boolean {
  return KNOWN_PUBLIC_SECRET_SHA256.has(sha256Hex(secret));
}
