/**
 * The exposure store as an analyst's database sees it: rows of `exposures`, counted per
 * (message, session) pair. A fresh connection per read, so a read during a Postgres outage fails
 * (and can be retried) instead of breaking a shared client.
 */
import { Client } from 'pg';
import { waitFor } from '@herald/testing';

/** `<messageId>/<sessionId>`: one push of one message to one session. */
export const pairKey = (messageId: string, sessionId: string) => `${messageId}/${sessionId}`;

export class ExposureStore {
  constructor(readonly url: string) {}

  /** Rows per (message, session) pair, of the users whose id starts with `userPrefix` ('' for all). */
  async countsByPair(userPrefix = ''): Promise<Map<string, number>> {
    const db = new Client({ connectionString: this.url });
    db.on('error', () => undefined); // a server stopping under us; the query fails and is retried
    await db.connect();
    try {
      const { rows } = await db.query<{ message_id: string; session_id: string; n: number }>(
        `SELECT message_id, session_id, count(*)::int AS n FROM exposures WHERE starts_with(user_id, $1) GROUP BY 1, 2`,
        [userPrefix],
      );
      return new Map(rows.map((r) => [pairKey(r.message_id, r.session_id), r.n]));
    } finally {
      await db.end().catch(() => undefined);
    }
  }

  /** Rows in the store, of the users whose id starts with `userPrefix`. */
  async rows(userPrefix = ''): Promise<number> {
    let n = 0;
    for (const count of (await this.countsByPair(userPrefix)).values()) n += count;
    return n;
  }

  /**
   * Waits (up to `timeoutMs`) until every pair of `expected` has a row, and returns the counts
   * then; on timeout returns the last counts read, so the caller's assertion says what is missing.
   */
  async waitForPairs(expected: Iterable<string>, userPrefix: string, timeoutMs: number): Promise<Map<string, number>> {
    const wanted = [...expected];
    let last = new Map<string, number>();
    try {
      await waitFor(
        async () => {
          last = await this.countsByPair(userPrefix);
          return wanted.every((pair) => last.has(pair));
        },
        { timeoutMs, intervalMs: 250, what: `${wanted.length} exposures in the store` },
      );
    } catch {
      // reported by the caller's assertion, with the counts
    }
    return last;
  }
}
