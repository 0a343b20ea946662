/**
 * The node:crypto HS256 path (src/hs256.ts) against jose's jwtVerify, the reference it replaces:
 * on every kind of token both must accept the same user or refuse for the same reason.
 */
import { createHmac } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { loadIngestConfig } from '@herald/config';
import { TEST_JWT_SECRET } from '@herald/testing';
import { AuthError, createVerifier } from '../src';
import { toAuthError } from '../src/auth-error';

const NOW_MS = 1_800_000_000_123;
const NOW = Math.floor(NOW_MS / 1000);
const TOLERANCE = 5;
const b64 = (value: string | Buffer) => Buffer.from(value).toString('base64url');
const json = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

/** A compact HS256 token from any header and payload (objects or raw text). */
function token(payload: unknown, opts: { header?: unknown; secret?: string; payloadBytes?: Buffer } = {}): string {
  const input = `${b64(json(opts.header ?? { alg: 'HS256' }))}.${b64(opts.payloadBytes ?? json(payload))}`;
  return `${input}.${createHmac('sha256', opts.secret ?? TEST_JWT_SECRET).update(input).digest('base64url')}`;
}

type Outcome = string;

async function outcome(p: Promise<{ userId: string }>): Promise<Outcome> {
  try {
    return `user ${(await p).userId}`;
  } catch (err) {
    if (err instanceof AuthError) return err.reason;
    throw err;
  }
}

/** What the verifier gave before hs256.ts: jose's jwtVerify with the same options. */
async function jose(t: string, claims: { issuer?: string; audience?: string }): Promise<Outcome> {
  try {
    if (decodeProtectedHeader(t).alg !== 'HS256') return 'algorithm';
  } catch {
    return 'malformed';
  }
  try {
    const { payload } = await jwtVerify(t, new TextEncoder().encode(TEST_JWT_SECRET), {
      ...claims,
      clockTolerance: TOLERANCE,
      algorithms: ['HS256'],
      currentDate: new Date(NOW_MS),
    });
    if (typeof payload.sub !== 'string' || !/^[A-Za-z0-9_\-.:@]{1,128}$/.test(payload.sub)) return 'subject';
    return `user ${payload.sub}`;
  } catch (err) {
    return toAuthError(err).reason;
  }
}

const CASES: Array<[string, string]> = [
  ['valid', token({ sub: 'alice' })],
  ['valid with exp', token({ sub: 'alice', exp: NOW + 60 })],
  ['expired beyond the tolerance', token({ sub: 'alice', exp: NOW - TOLERANCE })],
  ['expired within the tolerance', token({ sub: 'alice', exp: NOW - TOLERANCE + 1 })],
  ['nbf within the tolerance', token({ sub: 'alice', nbf: NOW + TOLERANCE })],
  ['nbf beyond the tolerance', token({ sub: 'alice', nbf: NOW + TOLERANCE + 1 })],
  ['exp not a number', token({ sub: 'alice', exp: String(NOW + 60) })],
  ['nbf not a number', token({ sub: 'alice', nbf: 'soon' })],
  ['iat not a number', token({ sub: 'alice', iat: 'now' })],
  ['iat a number', token({ sub: 'alice', iat: NOW - 10 })],
  ['no sub', token({ scope: 'messages:write' })],
  ['sub not a user id', token({ sub: 'a b' })],
  ['sub a number', token({ sub: 42 })],
  ['payload an array', token([1, 2])],
  ['payload null', token('null')],
  ['payload not JSON', token('{"sub":')],
  ['payload not UTF-8', token(undefined, { payloadBytes: Buffer.from([0x7b, 0xff, 0x7d]) })],
  ['another secret', token({ sub: 'alice' }, { secret: 'w'.repeat(40) })],
  ['signature cut short', token({ sub: 'alice' }).slice(0, -2)],
  ['signature empty', token({ sub: 'alice' }).replace(/[^.]*$/, '')],
  ['two segments', token({ sub: 'alice' }).split('.').slice(0, 2).join('.')],
  ['four segments', `${token({ sub: 'alice' })}.x`],
  ['header alg none', token({ sub: 'alice' }, { header: { alg: 'none' } })],
  ['header not JSON', `${b64('{"alg"')}.${token({ sub: 'alice' }).split('.').slice(1).join('.')}`],
  ['header crit', token({ sub: 'alice' }, { header: { alg: 'HS256', crit: ['exp'], exp: 1 } })],
  ['iss matching', token({ sub: 'alice', iss: 'herald', aud: 'push' })],
  ['iss missing', token({ sub: 'alice', aud: 'push' })],
  ['iss wrong', token({ sub: 'alice', iss: 'other', aud: 'push' })],
  ['aud wrong', token({ sub: 'alice', iss: 'herald', aud: 'other' })],
  ['aud in a list', token({ sub: 'alice', iss: 'herald', aud: ['x', 'push'] })],
  ['aud not in a list', token({ sub: 'alice', iss: 'herald', aud: ['x', 'y'] })],
  ['aud a number', token({ sub: 'alice', iss: 'herald', aud: 7 })],
];

describe.each([
  ['without iss/aud rules', {}],
  ['with iss and aud rules', { issuer: 'herald', audience: 'push' }],
])('HS256 through node:crypto, %s', (_name, claims: { issuer?: string; audience?: string }) => {
  const verifier = createVerifier(
    loadIngestConfig({
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      AUTH_CLOCK_TOLERANCE_SECONDS: String(TOLERANCE),
      AUTH_CACHE_MAX_TOKENS: '0',
      ...(claims.issuer ? { AUTH_ISSUER: claims.issuer } : {}),
      ...(claims.audience ? { AUTH_AUDIENCE: claims.audience } : {}),
    }),
    { now: () => NOW_MS },
  );

  it.each(CASES)('%s: the same outcome as jose', async (_case, t) => {
    expect(await outcome(verifier.verify(t))).toBe(await jose(t, claims));
  });

  it('refuses what jose would let through: a non-canonical signature, a b64 header', async () => {
    const good = token({ sub: 'alice' });
    // The last base64url character of a 32-byte MAC carries 2 unused bits: another spelling of the same bytes.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const index = alphabet.indexOf(good.slice(-1));
    const sibling = alphabet[index ^ 1];
    expect(Buffer.from(good.slice(-43), 'base64url')).toEqual(Buffer.from(good.slice(-43, -1) + sibling, 'base64url'));
    expect(sibling).toBeDefined();
    expect(await outcome(verifier.verify(good.slice(0, -1) + sibling))).toBe('signature');
    expect(await outcome(verifier.verify(token({ sub: 'alice' }, { header: { alg: 'HS256', b64: true } })))).toBe('malformed');
  });
});
