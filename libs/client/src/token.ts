/**
 * Tokens: a fixed string, or a provider the client calls for a fresh one (at the first connect,
 * after the gateway refused or expired the last one, and shortly before its `exp`).
 */
export type TokenProvider = () => string | Promise<string>;
export type TokenSource = string | TokenProvider;

/**
 * The `exp` claim of a JWT in epoch milliseconds, or undefined when there is none or the token is
 * not a readable JWT. Read without verifying: the client only uses it to refresh in time; the
 * gateway is the one that verifies.
 */
export function tokenExpiresAt(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), '=')), (c) =>
      c.charCodeAt(0),
    );
    const claims = JSON.parse(new TextDecoder().decode(bytes)) as { exp?: unknown };
    return typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp * 1000 : undefined;
  } catch {
    // Not a JWT we can read: no proactive refresh; the gateway's 4001 still triggers one.
    return undefined;
  }
}

/**
 * When to fetch the next token: `marginMs` before `expiresAt`, but never later than halfway
 * through what is left, so a short-lived token is still replaced before it runs out.
 */
export function refreshAt(expiresAt: number, now: number, marginMs: number): number {
  const left = expiresAt - now;
  return now + Math.max(0, left - Math.min(marginMs, left / 2));
}
