/**
 * Users whose session was closed for abuse (4008): their upgrades are refused for
 * WS_ABUSE_COOLDOWN_MS (0: never). Written by the sessions' `onAbuse`, read at the door before
 * the token check, pruned by the hub's once-a-second sweep.
 */
export class AbuseCooldowns {
  /** User id -> until when (epoch ms) their upgrades are refused. */
  private readonly until = new Map<string, number>();

  constructor(private readonly cooldownMs: number) {}

  /** Whether any user is cooling down (the door reads a token's subject only then). */
  get any(): boolean {
    return this.until.size > 0;
  }

  /** Start the user's cooldown; false when cooldowns are off. */
  start(userId: string, now = Date.now()): boolean {
    if (this.cooldownMs === 0) return false;
    this.until.set(userId, now + this.cooldownMs);
    return true;
  }

  /** Milliseconds left in the user's cooldown; 0 when it is not cooling down. */
  remainingMs(userId: string | undefined, now = Date.now()): number {
    const until = userId === undefined ? undefined : this.until.get(userId);
    return until === undefined || until <= now ? 0 : until - now;
  }

  /** Forget the cooldowns that ran out. */
  prune(now = Date.now()): void {
    for (const [userId, until] of this.until) if (until <= now) this.until.delete(userId);
  }
}
