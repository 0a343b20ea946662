/**
 * The tokens of ingest's HTTP property tests: every kind a request may carry (right scope, other
 * scope, none, expired, signed with another secret, not Bearer, garbage), signed once per file,
 * and which kinds a route's scope lets through.
 */
import { signToken } from '@herald/testing';
import { Scope } from '@herald/types';
import { bearer } from '../harness';

export const TOKEN_KINDS = ['messages', 'categories', 'both', 'user', 'none', 'expired', 'wrongSecret', 'notBearer', 'garbage'] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];
/** The token's `sub`: Idempotency-Keys are per producer. */
export const SUBJECTS: Partial<Record<TokenKind, string>> = { messages: 'prop-messages', both: 'prop-both' };
export const signed: Partial<Record<TokenKind, string>> = {};

export async function signTokens(): Promise<void> {
  signed.messages = await signToken(SUBJECTS.messages, { scope: Scope.MESSAGES_WRITE });
  signed.categories = await signToken('prop-categories', { scope: Scope.CATEGORIES_WRITE });
  signed.both = await signToken(SUBJECTS.both, { scope: `${Scope.CATEGORIES_WRITE} ${Scope.MESSAGES_WRITE}` });
  signed.user = await signToken('prop-user');
  signed.expired = await signToken('prop-expired', {
    scope: `${Scope.CATEGORIES_WRITE} ${Scope.MESSAGES_WRITE}`,
    expiresIn: Math.floor(Date.now() / 1000) - 3600,
  });
  signed.wrongSecret = await signToken('prop-wrong', {
    scope: `${Scope.CATEGORIES_WRITE} ${Scope.MESSAGES_WRITE}`,
    secret: 'not-the-secret-0123456789abcdef0123456789',
  });
}

export interface TokenChoice {
  kind: TokenKind;
  /** Authorization header for 'garbage'. */
  raw: string;
}

export function authHeader({ kind, raw }: TokenChoice): Record<string, string> {
  switch (kind) {
    case 'none':
      return {};
    case 'garbage':
      return { authorization: raw };
    case 'notBearer':
      return { authorization: signed.both! };
    default:
      return bearer(signed[kind]!);
  }
}

export const grants = (kind: TokenKind, scope: Scope): boolean =>
  (kind === 'both' && (scope === Scope.MESSAGES_WRITE || scope === Scope.CATEGORIES_WRITE)) ||
  (kind === 'messages' && scope === Scope.MESSAGES_WRITE) ||
  (kind === 'categories' && scope === Scope.CATEGORIES_WRITE);
