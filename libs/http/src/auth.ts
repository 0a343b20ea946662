/**
 * Bearer-token checks: for producer and analyst routes (401 without a valid token, 403 without the
 * scope), and for a user's own routes (any valid token: its `sub` is the user, as on the WebSocket).
 */
import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { bearerToken, AuthError, hasScope, type Principal, type TokenVerifier } from '@herald/auth';
import { HeraldError, type Scope } from '@herald/types';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** The verified principal of the request's bearer token; 401 (503 when the key set is down) otherwise. */
async function verifyRequest(verifier: TokenVerifier, request: FastifyRequest): Promise<Principal> {
  try {
    return await verifier.verify(bearerToken(request.headers.authorization));
  } catch (err) {
    if (err instanceof AuthError) {
      request.log.info({ reason: err.reason }, 'token refused');
      // The key set is down: the token may be fine; say "retry", not "get a new token".
      throw new HeraldError(err.reason === 'unavailable' ? 'AUTH_UNAVAILABLE' : 'UNAUTHORIZED');
    }
    throw err;
  }
}

export function requireScope(verifier: TokenVerifier, scope: Scope): preHandlerAsyncHookHandler {
  return async function checkScope(request: FastifyRequest) {
    const principal = await verifyRequest(verifier, request);
    if (!hasScope(principal, scope)) throw new HeraldError('FORBIDDEN', `The token lacks the scope ${scope}.`);
    request.principal = principal;
  };
}

/** A user's own route: any token the WebSocket would accept; `request.principal.userId` is the user. */
export function requireUser(verifier: TokenVerifier): preHandlerAsyncHookHandler {
  return async function checkUser(request: FastifyRequest) {
    request.principal = await verifyRequest(verifier, request);
  };
}
