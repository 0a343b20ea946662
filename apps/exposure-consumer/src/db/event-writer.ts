/**
 * Where the subscriber writes a batch (the ExposureSink): every kind's events into their tables in
 * one statement (batch-statement.ts), so the batch's messages are acknowledged only once all of it
 * committed. A batch of exposures alone (what the gateways publish, the bulk of the traffic) is the
 * plain insert, as before the other kinds existed.
 */
import type { Pool } from 'pg';
import type { EventBatch } from '../ingest/consumer-event';
import { batchStatement, type BatchCounts } from './batch-statement';
import { messageRounds, upsertMessageRound, type EngagementResult } from './event-store';
import type { DeadLetter, ExposureStore, InsertResult } from './exposure-store';

export interface BatchResult {
  exposures: InsertResult;
  engagements: EngagementResult;
  losses: InsertResult;
  /** Lifecycle events applied to their messages' rows (idempotent, so no duplicates are told apart). */
  messages: number;
  /** Web Push outcomes. */
  webpush: InsertResult;
}

/** Where the subscriber writes; the writer below, or a stand-in in tests. */
export interface ExposureSink {
  writeBatch(batch: EventBatch): Promise<BatchResult>;
  insertDeadLetter(letter: DeadLetter): Promise<void>;
}

const NONE = { inserted: 0, duplicates: 0 };

export class EventWriter implements ExposureSink {
  constructor(
    private readonly pool: Pool,
    private readonly exposures: ExposureStore,
    /** How long a held engagement waits before its first re-check (CONSUMER_ENGAGEMENT_RECHECK_MS). */
    private readonly recheckMs: number,
  ) {}

  async writeBatch(batch: EventBatch): Promise<BatchResult> {
    const others = batch.engagements.length + batch.losses.length + batch.messages.length + batch.webpush.length;
    if (others === 0) {
      return { exposures: await this.exposures.insertBatch(batch.exposures), engagements: { ...NONE, held: 0 }, losses: NONE, messages: 0, webpush: NONE };
    }
    const [first = [], ...later] = messageRounds(batch.messages);
    const statement = batchStatement(batch, first, this.recheckMs);
    const { rows } = await this.pool.query<BatchCounts>(statement.text, statement.values);
    for (const round of later) await upsertMessageRound(this.pool, round);
    const counts = rows[0];
    const { engagements_stored: stored, engagements_held: held } = counts;
    return {
      exposures: insertedOf(counts.exposures, batch.exposures.length),
      messages: batch.messages.length,
      losses: insertedOf(counts.losses, batch.losses.length),
      webpush: insertedOf(counts.webpush, batch.webpush.length),
      engagements: { inserted: stored, held, duplicates: batch.engagements.length - stored - held },
    };
  }

  insertDeadLetter(letter: DeadLetter): Promise<void> {
    return this.exposures.insertDeadLetter(letter);
  }
}

/** Rows inserted of `of`, the rest duplicates. */
function insertedOf(n: number, of: number): { inserted: number; duplicates: number } {
  return { inserted: n, duplicates: of - n };
}
