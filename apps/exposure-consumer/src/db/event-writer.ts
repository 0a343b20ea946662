/**
 * Where the subscriber writes a batch (the ExposureSink): every kind's events into their tables in
 * one transaction, so the batch's messages are acknowledged only once all of it committed.
 * Exposures go first, so an engagement in the same batch finds its exposure. A batch of exposures
 * alone (what the gateways publish, the bulk of the traffic) stays one statement without
 * BEGIN/COMMIT, as before the other kinds existed.
 */
import type { Pool } from 'pg';
import type { EventBatch } from '../ingest/consumer-event';
import { upsertMessages, writeEngagements, writeLosses, writeWebPush, type EngagementResult } from './event-store';
import type { DeadLetter, ExposureStore, InsertResult } from './exposure-store';
import { inTransaction } from './transaction';

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
    return inTransaction(this.pool, async (client) => ({
      exposures: await this.exposures.insertBatch(batch.exposures, client),
      messages: await upsertMessages(client, batch.messages),
      losses: await writeLosses(client, batch.losses),
      webpush: await writeWebPush(client, batch.webpush),
      engagements: await writeEngagements(client, batch.engagements, this.recheckMs),
    }));
  }

  insertDeadLetter(letter: DeadLetter): Promise<void> {
    return this.exposures.insertDeadLetter(letter);
  }
}
