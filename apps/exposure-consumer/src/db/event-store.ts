/**
 * The writes of the events besides exposures, each on a transaction's client (event-writer.ts holds
 * the transaction): lifecycle steps into `messages`, losses, and engagements, which are stored only
 * for a message the user was delivered and otherwise held in `engagement_holds` for a later check
 * (engagement-holds.ts). Every write is idempotent, so a redelivered batch changes nothing.
 */
import type { PoolClient } from 'pg';
import type { EngagementEvent, LossEvent, MessageEvent, WebPushEvent } from '@herald/types';

export interface EngagementResult {
  /** Stored now: their exposure is in `exposures`. */
  inserted: number;
  /** Put on hold: no exposure for (message, user) yet. */
  held: number;
  /** Stored (or held) already. */
  duplicates: number;
}

const ENGAGEMENT_COLUMNS = 'event_id, message_id, user_id, kind, action, category, session_id, gateway_id, at';

/**
 * Whether the user was delivered the message: any exposure of (message, user). It walks the user's
 * exposures (index (user_id, delivered_at, event_id)) and checks their message id: no index is
 * added to `exposures`, whose insert rate is what the consumer is measured by, and one user's
 * exposures within the retention are few next to one message's.
 */
const DELIVERED = (e: string) => `EXISTS (SELECT 1 FROM exposures x WHERE x.user_id = ${e}.user_id AND x.message_id = ${e}.message_id)`;

/** Engagements with a delivered (message, user) are stored, the others held; one statement. */
export async function writeEngagements(client: PoolClient, events: readonly EngagementEvent[], recheckMs: number): Promise<EngagementResult> {
  if (events.length === 0) return { inserted: 0, held: 0, duplicates: 0 };
  const { rows } = await client.query<{ inserted: number; held: number }>(
    `WITH e AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::timestamptz[])
         AS e(${ENGAGEMENT_COLUMNS})
     ), checked AS (
       SELECT e.*, ${DELIVERED('e')} AS delivered FROM e
     ), stored AS (
       INSERT INTO engagements (${ENGAGEMENT_COLUMNS}) SELECT ${ENGAGEMENT_COLUMNS} FROM checked WHERE delivered
       ON CONFLICT (event_id) DO NOTHING RETURNING 1
     ), held AS (
       INSERT INTO engagement_holds (${ENGAGEMENT_COLUMNS}, next_check_at)
       SELECT ${ENGAGEMENT_COLUMNS}, now() + $10::int * interval '1 millisecond' FROM checked c
       WHERE NOT delivered AND NOT EXISTS (SELECT 1 FROM engagements g WHERE g.event_id = c.event_id)
       ON CONFLICT (event_id) DO NOTHING RETURNING 1
     )
     SELECT (SELECT count(*) FROM stored)::int AS inserted, (SELECT count(*) FROM held)::int AS held`,
    [
      events.map((e) => e.eventId),
      events.map((e) => e.messageId),
      events.map((e) => e.userId),
      events.map((e) => e.kind),
      events.map((e) => e.action ?? null),
      events.map((e) => e.category),
      events.map((e) => e.sessionId),
      events.map((e) => e.gatewayId),
      events.map((e) => e.at),
      recheckMs,
    ],
  );
  const { inserted, held } = rows[0];
  return { inserted, held, duplicates: events.length - inserted - held };
}

export async function writeLosses(client: PoolClient, events: readonly LossEvent[]): Promise<{ inserted: number; duplicates: number }> {
  if (events.length === 0) return { inserted: 0, duplicates: 0 };
  const result = await client.query(
    `INSERT INTO losses (event_id, message_id, user_id, kind, category, at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
     ON CONFLICT (event_id) DO NOTHING`,
    [
      events.map((e) => e.eventId),
      events.map((e) => e.messageId),
      events.map((e) => e.userId),
      events.map((e) => e.kind),
      events.map((e) => e.category),
      events.map((e) => e.at),
    ],
  );
  const inserted = result.rowCount ?? 0;
  return { inserted, duplicates: events.length - inserted };
}

/** Web Push outcomes, each once by its event id. */
export async function writeWebPush(client: PoolClient, events: readonly WebPushEvent[]): Promise<{ inserted: number; duplicates: number }> {
  if (events.length === 0) return { inserted: 0, duplicates: 0 };
  const result = await client.query(
    `INSERT INTO webpush_outcomes (event_id, message_id, user_id, subscription_id, status, http_status, at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::timestamptz[])
     ON CONFLICT (event_id) DO NOTHING`,
    [
      events.map((e) => e.eventId),
      events.map((e) => e.messageId),
      events.map((e) => e.userId),
      events.map((e) => e.subscriptionId),
      events.map((e) => e.status),
      events.map((e) => e.httpStatus ?? null),
      events.map((e) => e.at),
    ],
  );
  const inserted = result.rowCount ?? 0;
  return { inserted, duplicates: events.length - inserted };
}

/** A lifecycle event as the columns it sets; the others stay null and leave the row's value alone. */
interface MessageColumns {
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

const UPSERT_MESSAGES = `INSERT INTO messages (${MESSAGE_COLUMNS.map(([c]) => c).join(', ')})
  SELECT * FROM unnest(${MESSAGE_COLUMNS.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')})
  ON CONFLICT (id) DO UPDATE SET ${Object.entries(MERGE).map(([c, rule]) => `${c} = ${rule}`).join(',\n    ')}`;

/**
 * Applies lifecycle events to their messages' rows. An upsert may touch a row once, so the events
 * go in rounds holding at most one per message (one round unless a batch has two steps of one
 * message), each sorted by id so that concurrent batches lock rows in the same order. An event that
 * came twice (a redelivery, or a publisher's repeat: the same `eventId`) is applied once: a repeat
 * changes nothing, and as a round of its own it would cost a statement and hold the row's lock again.
 */
export async function upsertMessages(client: PoolClient, events: readonly MessageEvent[]): Promise<number> {
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
  for (const round of rounds) {
    round.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    await client.query(UPSERT_MESSAGES, MESSAGE_COLUMNS.map(([column]) => round.map((row) => row[column])));
  }
  return events.length;
}
