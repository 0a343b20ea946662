/**
 * A batch of mixed kinds as ONE statement (data-modifying CTEs, one per kind present), so one
 * round trip: the consumer's event loop is busiest exactly when batches are written (Pub/Sub
 * messages pouring in), and each round trip of a transaction (BEGIN, a statement per kind, COMMIT)
 * waited for it; mixed batches took twice as long as exposures alone (docs/BENCHMARKS.md).
 *
 * One statement is one implicit transaction: all of it commits or none. Its CTEs do not see each
 * other's writes, so an engagement is checked against the batch's exposure rows as well as the
 * stored ones. The rare second step of the same message in one batch (messageRounds) is a second
 * statement after the first; every write is idempotent, so a failure between the two is a nack and
 * a redelivery that writes the rest.
 */
import type { EventBatch } from '../ingest/consumer-event';
import { ENGAGEMENT_PART, LOSS_PART, MESSAGE_PART, WEBPUSH_PART, type MessageColumns } from './event-store';
import { EXPOSURE_PART } from './exposure-store';
import { unnestOf } from './unnest';

/** The counts the statement answers (one row). */
export interface BatchCounts {
  exposures: number;
  engagements_stored: number;
  engagements_held: number;
  losses: number;
  webpush: number;
}

export interface Statement {
  text: string;
  values: unknown[];
}

/** The statement for `batch`, with `messages` (the first round of its lifecycle steps). */
export function batchStatement(batch: EventBatch, messages: readonly MessageColumns[], recheckMs: number): Statement {
  const values: unknown[] = [];
  const ctes: string[] = [];
  const counts: string[] = [];

  let batchExposures: string | undefined;
  if (batch.exposures.length > 0) {
    batchExposures = 'exposures_batch';
    ctes.push(`exposures_batch AS (SELECT * FROM ${appendRows(values, EXPOSURE_PART.types, EXPOSURE_PART.arrays(batch.exposures))} AS b(${EXPOSURE_PART.columns}))`);
    ctes.push(`exposures_in AS (${EXPOSURE_PART.insert('exposures_batch')} RETURNING 1)`);
  }
  counts.push(countColumn('exposures', batchExposures && 'exposures_in'));
  if (messages.length > 0) ctes.push(`messages_in AS (${MESSAGE_PART.upsert(appendRows(values, MESSAGE_PART.types, MESSAGE_PART.arrays(messages)))} RETURNING 1)`);
  if (batch.losses.length > 0) ctes.push(`losses_in AS (${LOSS_PART.insert(appendRows(values, LOSS_PART.types, LOSS_PART.arrays(batch.losses)))} RETURNING 1)`);
  counts.push(countColumn('losses', batch.losses.length > 0 ? 'losses_in' : undefined));
  if (batch.webpush.length > 0) ctes.push(`webpush_in AS (${WEBPUSH_PART.insert(appendRows(values, WEBPUSH_PART.types, WEBPUSH_PART.arrays(batch.webpush)))} RETURNING 1)`);
  counts.push(countColumn('webpush', batch.webpush.length > 0 ? 'webpush_in' : undefined));
  const engaged = batch.engagements.length > 0;
  if (engaged) {
    const source = appendRows(values, ENGAGEMENT_PART.types, ENGAGEMENT_PART.arrays(batch.engagements));
    values.push(recheckMs);
    ctes.push(ENGAGEMENT_PART.ctes(source, batchExposures, `$${values.length}`));
  }
  counts.push(countColumn('engagements_stored', engaged ? 'engagements_stored' : undefined));
  counts.push(countColumn('engagements_held', engaged ? 'engagements_held' : undefined));
  // A data-modifying CTE runs whether or not the query reads it; messages_in is not counted
  // (its events are counted as applied, upserts being idempotent).
  return { text: `WITH ${ctes.join(',\n')}\nSELECT ${counts.join(', ')}`, values };
}

/** The placeholders of `arrays`, appended to `values`. */
function appendRows(values: unknown[], types: readonly string[], arrays: unknown[]): string {
  const source = unnestOf(types, values.length + 1);
  values.push(...arrays);
  return source;
}

/** The count a CTE answers as `name` (0 when the batch has none of its kind). */
function countColumn(name: string, cte: string | undefined): string {
  return cte ? `(SELECT count(*) FROM ${cte})::int AS ${name}` : `0 AS ${name}`;
}
