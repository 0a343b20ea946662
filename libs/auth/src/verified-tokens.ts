/**
 * Verified principals cached by token, so that a producer sending with the same token thousands of
 * times a second pays for one verification. Keyed by the whole token string: a different token (one
 * changed byte, another signature) can never hit. An entry is served only before the token's `exp`
 * (without the clock tolerance) and for at most MAX_AGE_MS, and the cache is bounded by entries
 * (AUTH_CACHE_MAX_TOKENS) and by the bytes of the tokens it keys (MAX_BYTES), least recently used
 * out first. Refusals are not cached: every bad token is verified (and refused) again.
 */
import { LRUCache } from 'lru-cache';
import type { Principal } from './verifier';

/** An entry lives at most this long, whatever its `exp` (bounds a key removed from the JWKS). */
export const MAX_AGE_MS = 5 * 60_000;
/** The tokens kept, at most this many bytes in all (8 KiB tokens cannot make it hold 80 MB). */
const MAX_BYTES = 4 * 1024 * 1024;

interface Entry {
  principal: Principal;
  /** Epoch ms after which the entry is not served. */
  until: number;
}

export class VerifiedTokens {
  private readonly cache: LRUCache<string, Entry>;
  private hitCount = 0;

  constructor(maxTokens: number, private readonly now: () => number) {
    this.cache = new LRUCache<string, Entry>({ max: maxTokens, maxSize: MAX_BYTES, sizeCalculation: (_entry, token) => token.length });
  }

  /** Verifications answered from the cache. */
  get hits(): number {
    return this.hitCount;
  }

  get(token: string): Principal | undefined {
    const entry = this.cache.get(token);
    if (entry === undefined) return undefined;
    if (this.now() >= entry.until) {
      this.cache.delete(token);
      return undefined;
    }
    this.hitCount++;
    return entry.principal;
  }

  set(token: string, principal: Principal): void {
    const now = this.now();
    const until = Math.min(now + MAX_AGE_MS, principal.exp === undefined ? Infinity : principal.exp * 1000);
    if (until > now) this.cache.set(token, { principal, until });
  }
}
