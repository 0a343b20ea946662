/**
 * The writes of the events besides exposures, as parts of one statement per batch
 * (batch-statement.ts): lifecycle steps into `messages`, losses, Web Push outcomes, and
 * engagements, which are stored only for a message the user was delivered and otherwise held in
 * `engagement_holds` for a later check (engagement-holds.ts). Every write is idempotent, so a
 * redelivered batch, or one written in part before a failure, changes nothing when written again.
 */
import type { Pool, PoolClient } from 'pg';
import type { EngagementEvent, LossEvent, MessageEvent, WebPushEvent } from '@herald/types';
import { textArrayLiteral } from './text-array';
import { unnestOf } from './unnest';

export interface EngagementResult {
  /** Stored now: their exposure is in `exposures`. */
  inserted: number;
  /** Put on hold: no exposure for (message, user) yet. */
  held: number;
  /** Stored (or held) already. */
  duplicates: number;
}

/** A kind's write as parts of a batch's statement (batch-statement.ts): its columns' types, its arrays, its CTEs. */
export interface WritePart<E> {
  types: readonly string[];
  arrays(events: readonly E[]): unknown[];
}

const ENGAGEMENT_COLUMNS = 'event_id, message_id, user_id, kind, action, category, session_id, gateway_id, at';

/**
 * Whether the user was delivered the message: an exposure of (message, user) stored, or in the
 * same batch (`batchExposures`: the batch's exposure rows; the statement's writes do not see each
 * other). The stored check uses the (message_id, …) or (user_id, …) index, whichever the planner
 * finds cheaper; no index is added to `exposures`, whose insert rate is what the consumer is
 * measured by.
 */
const DELIVERED = (e: string, batchExposures: string | undefined) =>
  `(EXISTS (SELECT 1 FROM exposures x WHERE x.user_id = ${e}.user_id AND x.message_id = ${e}.message_id)` +
  (batchExposures ? ` OR EXISTS (SELECT 1 FROM ${batchExposures} b WHERE b.user_id = ${e}.user_id AND b.message_id = ${e}.message_id))` : ')');

/**
 * Engagements with a delivered (message, user) are stored, the others held (engagement-holds.ts
 * re-checks them): CTEs `engagements_stored` and `engagements_held`, one row each per event written.
 */
export const ENGAGEMENT_PART: WritePart<EngagementEvent> & { ctes(source: string, batchExposures: string | undefined, recheckMs: string): string } = {
  types: ['text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'timestamptz'],
  arrays: (events) => [
    events.map((e) => e.eventId),
    events.map((e) => e.messageId),
    events.map((e) => e.userId),
    events.map((e) => e.kind),
    events.map((e) => e.action ?? null),
    events.map((e) => e.category),
    events.map((e) => e.sessionId),
    events.map((e) => e.gatewayId),
    events.map((e) => e.at),
  ].map(textArrayLiteral),
  ctes: (source, batchExposures, recheckMs) => `engagements_in AS (
       SELECT * FROM ${source} AS e(${ENGAGEMENT_COLUMNS})
     ), engagements_checked AS (
       SELECT e.*, ${DELIVERED('e', batchExposures)} AS delivered FROM engagements_in e
     ), engagements_stored AS (
       INSERT INTO engagements (${ENGAGEMENT_COLUMNS}) SELECT ${ENGAGEMENT_COLUMNS} FROM engagements_checked WHERE delivered
       ON CONFLICT (event_id) DO NOTHING RETURNING 1
     ), engagements_held AS (
       INSERT INTO engagement_holds (${ENGAGEMENT_COLUMNS}, next_check_at)
       SELECT ${ENGAGEMENT_COLUMNS}, now() + ${recheckMs}::int * interval '1 millisecond' FROM engagements_checked c
       WHERE NOT delivered AND NOT EXISTS (SELECT 1 FROM engagements g WHERE g.event_id = c.event_id)
       ON CONFLICT (event_id) DO NOTHING RETURNING 1
     )`,
};

/** Losses (expired, dropped), each once by its event id. */
export const LOSS_PART: WritePart<LossEvent> & { insert(source: string): string } = {
  types: ['text', 'text', 'text', 'text', 'text', 'timestamptz'],
  arrays: (events) => [
    events.map((e) => e.eventId),
    events.map((e) => e.messageId),
    events.map((e) => e.userId),
    events.map((e) => e.kind),
    events.map((e) => e.category),
    events.map((e) => e.at),
  ].map(textArrayLiteral),
  insert: (source) => `INSERT INTO losses (event_id, message_id, user_id, kind, category, at) SELECT * FROM ${source} ON CONFLICT (event_id) DO NOTHING`,
};

/** Web Push outcomes, each once by its event id. */
export const WEBPUSH_PART: WritePart<WebPushEvent> & { insert(source: string): string } = {
  types: ['text', 'text', 'text', 'text', 'text', 'int', 'timestamptz'],
  arrays: (events) => [
    events.map((e) => e.eventId),
    events.map((e) => e.messageId),
    events.map((e) => e.userId),
    events.map((e) => e.subscriptionId),
    events.map((e) => e.status),
    events.map((e) => e.httpStatus ?? null),
    events.map((e) => e.at),
  ],
  insert: (source) =>
    `INSERT INTO webpush_outcomes (event_id, message_id, user_id, subscription_id, status, http_status, at) SELECT * FROM ${source} ON CONFLICT (event_id) DO NOTHING`,
};

/** A lifecycle event as the columns it sets; the others stay null and leave the row's value alone. */
export interface MessageColumns {
  id: string;
  producer: string;
  category: string | null;
  created_at: string | null;
  recipients: number | null;
  size: number | null;
  replace_key: string | null;
  replaced: number | null;
  dropped: number | null;
  scheduled_for: string | null;
  scheduled_at: string | null;
  expires_at: string | null;
  version: number | null;
  updated_at: string | null;
  recalled_at: string | null;
}

function columnsOf(e: MessageEvent): MessageColumns {
  const sent = e.kind === 'sent';
  return {
    id: e.messageId,
    producer: e.producer,
    category: e.category,
    created_at: sent ? e.at : null,
    recipients: e.recipients ?? null,
    size: e.size ?? null,
    replace_key: e.replaceKey ?? null,
    replaced: e.replaced ?? null,
    dropped: e.dropped ?? null,
    scheduled_for: e.scheduledFor ?? null,
    scheduled_at: e.kind === 'scheduled' ? e.at : null,
    expires_at: e.expiresAt ?? null,
    // The first send is version 1 (events.ts).
    version: e.version ?? (sent ? 1 : null),
    updated_at: e.kind === 'updated' ? e.at : null,
    recalled_at: e.kind === 'recalled' ? e.at : null,
  };
}

const MESSAGE_COLUMNS: ReadonlyArray<[keyof MessageColumns, string]> = [
  ['id', 'text'], ['producer', 'text'], ['category', 'text'], ['created_at', 'timestamptz'], ['recipients', 'int'],
  ['size', 'int'], ['replace_key', 'text'], ['replaced', 'int'], ['dropped', 'int'], ['scheduled_for', 'timestamptz'],
  ['scheduled_at', 'timestamptz'], ['expires_at', 'timestamptz'], ['version', 'int'], ['updated_at', 'timestamptz'],
  ['recalled_at', 'timestamptz'],
];

/**
 * How a stored row and an event's columns combine. Each rule is commutative and idempotent (LEAST,
 * GREATEST, which skip nulls; the newest version's size and expiry), so the row ends the same
 * whatever order the steps arrive in and however often.
 */
const newer = (column: string) =>
  `CASE WHEN EXCLUDED.${column} IS NULL THEN messages.${column}
        WHEN messages.${column} IS NULL OR EXCLUDED.version > messages.version THEN EXCLUDED.${column}
        WHEN EXCLUDED.version = messages.version THEN GREATEST(messages.${column}, EXCLUDED.${column})
        ELSE messages.${column} END`;
const MERGE: Record<Exclude<keyof MessageColumns, 'id'>, string> = {
  producer: 'GREATEST(messages.producer, EXCLUDED.producer)',
  category: 'GREATEST(messages.category, EXCLUDED.category)',
  created_at: 'LEAST(messages.created_at, EXCLUDED.created_at)',
  recipients: 'GREATEST(messages.recipients, EXCLUDED.recipients)',
  size: newer('size'),
  replace_key: 'GREATEST(messages.replace_key, EXCLUDED.replace_key)',
  replaced: 'GREATEST(messages.replaced, EXCLUDED.replaced)',
  dropped: 'GREATEST(messages.dropped, EXCLUDED.dropped)',
  scheduled_for: 'LEAST(messages.scheduled_for, EXCLUDED.scheduled_for)',
  scheduled_at: 'LEAST(messages.scheduled_at, EXCLUDED.scheduled_at)',
  expires_at: newer('expires_at'),
  // Every SET expression reads the row as it was before this update, so the CASEs above see the old version.
  version: 'GREATEST(messages.version, EXCLUDED.version)',
  updated_at: 'GREATEST(messages.updated_at, EXCLUDED.updated_at)',
  recalled_at: 'LEAST(messages.recalled_at, EXCLUDED.recalled_at)',
};

/** The upsert of one round's rows (at most one per message), from the rows of `source`. */
const upsertMessages = (source: string) => `INSERT INTO messages (${MESSAGE_COLUMNS.map(([c]) => c).join(', ')})
  SELECT * FROM ${source}
  ON CONFLICT (id) DO UPDATE SET ${Object.entries(MERGE).map(([c, rule]) => `${c} = ${rule}`).join(',\n    ')}`;

/** Lifecycle events applied to their messages' rows, a round at a time (messageRounds). */
export const MESSAGE_PART: WritePart<MessageColumns> & { upsert(source: string): string } = {
  types: MESSAGE_COLUMNS.map(([, type]) => type),
  arrays: (rows) => MESSAGE_COLUMNS.map(([column]) => rows.map((row) => row[column])),
  upsert: upsertMessages,
};

/**
 * Lifecycle events as rounds of rows to upsert. An upsert may touch a row once, so the events go
 * in rounds holding at most one per message (one round unless a batch has two steps of one
 * message), each sorted by id so that concurrent batches lock rows in the same order. An event that
 * came twice (a redelivery, or a publisher's repeat: the same `eventId`) is applied once: a repeat
 * changes nothing, and as a round of its own it would cost a statement and hold the row's lock again.
 */
export function messageRounds(events: readonly MessageEvent[]): MessageColumns[][] {
  const rounds: MessageColumns[][] = [];
  const seen = new Map<string, number>();
  const applied = new Set<string>();
  for (const event of events) {
    if (applied.has(event.eventId)) continue;
    applied.add(event.eventId);
    const round = seen.get(event.messageId) ?? 0;
    seen.set(event.messageId, round + 1);
    (rounds[round] ??= []).push(columnsOf(event));
  }
  for (const round of rounds) round.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return rounds;
}

/** One more round's upsert, on its own (the rounds after the first: batch-statement.ts). */
export async function upsertMessageRound(client: Pool | PoolClient, rows: readonly MessageColumns[]): Promise<void> {
  await client.query(MESSAGE_PART.upsert(unnestOf(MESSAGE_PART.types, 1)), MESSAGE_PART.arrays(rows));
}
