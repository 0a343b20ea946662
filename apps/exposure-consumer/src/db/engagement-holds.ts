/**
 * Engagements waiting for their exposure (`engagement_holds`): an engagement may reach the consumer
 * before the exposure it follows (another process published it), so event-store.ts holds it instead
 * of refusing it at once. Each hold is checked again every CONSUMER_ENGAGEMENT_RECHECK_MS: once its
 * (message, user) has an exposure it is stored; after CONSUMER_ENGAGEMENT_RECHECKS checks without
 * one it is refused (deleted, and the caller counts and logs it): a forged or unknown id is never
 * stored. Replicas share the work: a hold is taken by one check at a time (SKIP LOCKED).
 */
import type { Pool, PoolClient } from 'pg';
import { inTransaction } from './transaction';

export interface RecheckResult {
  /** Stored: their exposure arrived. */
  stored: number;
  /** Refused after their last check, for the log. */
  refused: Array<{ eventId: string; messageId: string; userId: string; kind: string }>;
  /** Checked and still waiting. */
  waiting: number;
}

export interface RecheckOptions {
  /** Pause until a hold's next check. */
  recheckMs: number;
  /** Checks after which a hold without exposure is refused. */
  maxChecks: number;
  /** Holds taken per transaction. @default 1000 */
  chunk?: number;
}

const COLUMNS = 'event_id, message_id, user_id, kind, action, category, session_id, gateway_id, at';

/** Checks every hold that is due, a chunk per transaction, until none is. */
export async function recheckHolds(pool: Pool, opts: RecheckOptions): Promise<RecheckResult> {
  const total: RecheckResult = { stored: 0, refused: [], waiting: 0 };
  const chunk = opts.chunk ?? 1000;
  for (;;) {
    const { taken, ...result } = await inTransaction(pool, (client) => recheckChunk(client, opts, chunk));
    total.stored += result.stored;
    total.refused.push(...result.refused);
    total.waiting += result.waiting;
    if (taken < chunk) return total;
  }
}

async function recheckChunk(client: PoolClient, opts: RecheckOptions, chunk: number): Promise<RecheckResult & { taken: number }> {
  const { rows } = await client.query<{ event_id: string; message_id: string; user_id: string; kind: string; checks: number; delivered: boolean }>(
    `SELECT h.event_id, h.message_id, h.user_id, h.kind, h.checks,
            EXISTS (SELECT 1 FROM exposures x WHERE x.user_id = h.user_id AND x.message_id = h.message_id) AS delivered
     FROM engagement_holds h WHERE h.next_check_at <= now()
     ORDER BY h.next_check_at LIMIT $1 FOR UPDATE OF h SKIP LOCKED`,
    [chunk],
  );
  const delivered = rows.filter((r) => r.delivered).map((r) => r.event_id);
  const refused = rows.filter((r) => !r.delivered && r.checks + 1 >= opts.maxChecks);
  const waiting = rows.filter((r) => !r.delivered && r.checks + 1 < opts.maxChecks).map((r) => r.event_id);
  if (delivered.length > 0) {
    await client.query(`INSERT INTO engagements (${COLUMNS}) SELECT ${COLUMNS} FROM engagement_holds WHERE event_id = ANY($1) ON CONFLICT (event_id) DO NOTHING`, [delivered]);
  }
  const done = [...delivered, ...refused.map((r) => r.event_id)];
  if (done.length > 0) await client.query('DELETE FROM engagement_holds WHERE event_id = ANY($1)', [done]);
  if (waiting.length > 0) {
    await client.query(`UPDATE engagement_holds SET checks = checks + 1, next_check_at = now() + $2::int * interval '1 millisecond' WHERE event_id = ANY($1)`, [
      waiting,
      opts.recheckMs,
    ]);
  }
  return {
    taken: rows.length,
    stored: delivered.length,
    refused: refused.map((r) => ({ eventId: r.event_id, messageId: r.message_id, userId: r.user_id, kind: r.kind })),
    waiting: waiting.length,
  };
}
