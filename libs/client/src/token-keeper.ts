/**
 * The client's token: the one in use, when it must be replaced, and the timer that starts a
 * rotation (a second connection with a renewed token, see HeraldClient) before it expires.
 * A fixed string is used as it is and never renewed; a provider is asked at the first connect,
 * after the gateway refused or expired the token, and `refreshBeforeExpiryMs` before `exp`.
 */
import { refreshAt, tokenExpiresAt, type TokenSource } from './token';

export class TokenKeeper {
  private token?: string;
  private expires?: number;
  /** When the current token should be replaced (epoch ms); Infinity when it need not be. */
  private staleAt = Infinity;
  /** The next `current()` must ask the provider. */
  private mustRenew = false;
  private renewalTimer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly source: TokenSource,
    /** Renew this long before `exp`; false waits for the gateway's 4001. */
    private readonly marginMs: number | false,
  ) {}

  /** Whether a new token can be had (a provider function, not a fixed string). */
  get renewable(): boolean {
    return typeof this.source === 'function';
  }

  /** `exp` of the current token, epoch ms, when it has a readable one. */
  get expiresAt(): number | undefined {
    return this.expires;
  }

  /** The next connection must use a new token (the last one was refused, or may have been). */
  invalidate(): void {
    this.mustRenew = true;
  }

  /** The token for the next connection, from the provider when the current one will not do. */
  async current(): Promise<string> {
    const source = this.source;
    if (typeof source === 'string') return source;
    if (this.token !== undefined && !this.mustRenew && Date.now() < this.staleAt) return this.token;
    const token = await source();
    if (typeof token !== 'string' || token === '') throw new Error('the token provider returned no token');
    this.mustRenew = false;
    this.token = token;
    this.expires = tokenExpiresAt(token);
    this.staleAt = this.expires === undefined || this.marginMs === false ? Infinity : refreshAt(this.expires, Date.now(), this.marginMs);
    return token;
  }

  /** Call `rotate` when the current token is due for renewal (no-op for tokens that need none). */
  scheduleRenewal(rotate: () => void): void {
    this.cancelRenewal();
    if (!this.renewable || this.staleAt === Infinity) return;
    this.renewalTimer = setTimeout(() => {
      this.renewalTimer = undefined;
      this.mustRenew = true;
      rotate();
    }, Math.max(0, this.staleAt - Date.now()));
  }

  cancelRenewal(): void {
    clearTimeout(this.renewalTimer);
    this.renewalTimer = undefined;
  }
}
