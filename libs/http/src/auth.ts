/** Bearer-token checks for producer and analyst routes: 401 without a valid token, 403 without the scope. */
import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { bearerToken, AuthError, hasScope, type Principal, type TokenVerifier } from '@herald/auth';
import { HeraldError, type Scope } from '@herald/types';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export function requireScope(verifier: TokenVerifier, scope: Scope): preHandlerAsyncHookHandler {
  return async function checkScope(request: FastifyRequest) {
    let principal: Principal;
    try {
      principal = await verifier.verify(bearerToken(request.headers.authorization));
    } catch (err) {
      if (err instanceof AuthError) {
        request.log.info({ reason: err.reason }, 'token refused');
        // The key set is down: the token may be fine; say "retry", not "get a new token".
        throw new HeraldError(err.reason === 'unavailable' ? 'AUTH_UNAVAILABLE' : 'UNAUTHORIZED');
      }
      throw err;
    }
    if (!hasScope(principal, scope)) throw new HeraldError('FORBIDDEN', `The token lacks the scope ${scope}.`);
    request.principal = principal;
  };
}
