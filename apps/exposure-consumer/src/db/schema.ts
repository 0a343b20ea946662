/**
 * The consumer's schema, as an ordered list of migrations. Each runs once (recorded in
 * `herald_schema_migrations`) and is also written to be idempotent, so a half-applied database or a
 * hand-made table does not stop the start. Add a migration at the end; never edit one that shipped.
 *
 * `exposures` holds one row per exposure event, deduplicated by `event_id` (the Contract's
 * exactly-once in the store). Its indexes match the API: every filter plus the
 * (delivered_at, event_id) order used for keyset pagination. `dead_letters` keeps the messages that
 * are not exposure events, with the reason, so nothing is dropped silently.
 *
 * Since migration 2, `exposures` is partitioned by UTC day of `delivered_at` (`exposures_pYYYYMMDD`,
 * plus `exposures_default` for days without a partition); partitions.ts creates the days ahead of
 * the traffic and drops the days past the retention.
 */
export interface Migration {
  id: number;
  name: string;
  statements: readonly string[];
}

/**
 * The columns of an exposure row after `event_id`, the same in both versions of the table
 * (migrations 1 and 2 build their statements from it). Shipped, like the migrations: never change
 * it or EXPOSURE_INDEXES; a new column or index is a new migration.
 */
const EXPOSURE_COLUMNS = `
        message_id   text NOT NULL,
        user_id      text NOT NULL,
        category     text,
        session_id   text NOT NULL,
        gateway_id   text NOT NULL,
        delivered_at timestamptz NOT NULL,
        via          text NOT NULL,
        received_at  timestamptz NOT NULL DEFAULT now()`;

/** The API's indexes: every filter plus the (delivered_at, event_id) order, on both versions of the table. */
const EXPOSURE_INDEXES = [
  'CREATE INDEX IF NOT EXISTS exposures_delivered_at_idx ON exposures (delivered_at, event_id)',
  'CREATE INDEX IF NOT EXISTS exposures_message_id_idx ON exposures (message_id, delivered_at, event_id)',
  'CREATE INDEX IF NOT EXISTS exposures_user_id_idx ON exposures (user_id, delivered_at, event_id)',
  'CREATE INDEX IF NOT EXISTS exposures_category_idx ON exposures (category, delivered_at, event_id)',
];

export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'exposures and dead letters',
    statements: [
      `CREATE TABLE IF NOT EXISTS exposures (
        event_id     text PRIMARY KEY,${EXPOSURE_COLUMNS}
      )`,
      ...EXPOSURE_INDEXES,
      `CREATE TABLE IF NOT EXISTS dead_letters (
        id                bigserial PRIMARY KEY,
        pubsub_message_id text,
        data              text,
        reason            text,
        received_at       timestamptz DEFAULT now()
      )`,
    ],
  },
  {
    id: 2,
    name: 'exposures partitioned by day',
    // Converts migration 1's table in place: set it aside, create the partitioned table, copy the
    // rows, drop the old table, all in the migration's transaction (so nobody sees a half-made
    // table; writers wait on the lock and their batches are retried). Each step is a no-op when
    // `exposures` is partitioned already.
    statements: [
      // The old table's index names are freed for the new parent's.
      `DO $$
      BEGIN
        IF EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('exposures') AND relkind = 'r') THEN
          ALTER TABLE exposures RENAME TO exposures_unpartitioned;
          ALTER INDEX IF EXISTS exposures_pkey RENAME TO exposures_unpartitioned_pkey;
          DROP INDEX IF EXISTS exposures_delivered_at_idx, exposures_message_id_idx, exposures_user_id_idx, exposures_category_idx;
        END IF;
      END $$`,
      // A unique constraint on a partitioned table must include the partition key, so the primary
      // key is (event_id, delivered_at). It still dedupes exactly: a redelivered event carries the
      // same event_id AND the same deliveredAt, so it lands in the same partition and conflicts.
      `CREATE TABLE IF NOT EXISTS exposures (
        event_id     text NOT NULL,${EXPOSURE_COLUMNS},
        CONSTRAINT exposures_pkey PRIMARY KEY (event_id, delivered_at)
      ) PARTITION BY RANGE (delivered_at)`,
      // On the parent, so every partition gets them (created or attached).
      ...EXPOSURE_INDEXES,
      // Rows of a day without a partition (a deliveredAt far off) land here rather than fail.
      'CREATE TABLE IF NOT EXISTS exposures_default PARTITION OF exposures DEFAULT',
      // The stored days get their partitions before the copy, as if the table had always been
      // partitioned; days beyond partitions.ts's window ahead (now + 2 days) go to the default
      // partition, as they would today. Names and bounds are the ones partitions.ts uses.
      `DO $$
      DECLARE
        day timestamp;
      BEGIN
        IF to_regclass('exposures_unpartitioned') IS NULL THEN
          RETURN;
        END IF;
        FOR day IN
          SELECT d FROM (SELECT DISTINCT date_trunc('day', delivered_at AT TIME ZONE 'UTC') AS d FROM exposures_unpartitioned) AS days
          WHERE d <= date_trunc('day', now() AT TIME ZONE 'UTC') + interval '2 days'
        LOOP
          EXECUTE format(
            'CREATE TABLE IF NOT EXISTS %I PARTITION OF exposures FOR VALUES FROM (%L) TO (%L)',
            'exposures_p' || to_char(day, 'YYYYMMDD'),
            to_char(day, 'YYYY-MM-DD"T00:00:00Z"'),
            to_char(day + interval '1 day', 'YYYY-MM-DD"T00:00:00Z"')
          );
        END LOOP;
        INSERT INTO exposures (event_id, message_id, user_id, category, session_id, gateway_id, delivered_at, via, received_at)
          SELECT event_id, message_id, user_id, category, session_id, gateway_id, delivered_at, via, received_at
          FROM exposures_unpartitioned;
        DROP TABLE exposures_unpartitioned;
      END $$`,
    ],
  },
  {
    id: 3,
    name: 'the funnel: messages, engagements (and those waiting for their exposure), losses',
    // Plain tables (no partitions): one row per message, and per-user rows far fewer than
    // exposures; retention deletes old rows in chunks (event-retention.ts). Every write is
    // idempotent: engagements and losses by their derived event id, messages by commutative upserts.
    statements: [
      // One row per message, each lifecycle event setting only its own columns (event-store.ts).
      // window_at is the time the API's windows use: when it was sent, else when it is scheduled
      // for, else when the consumer first heard of it (a recall of a message whose sent is late).
      `CREATE TABLE IF NOT EXISTS messages (
        id            text PRIMARY KEY,
        producer      text,
        category      text,
        created_at    timestamptz,
        recipients    integer,
        size          integer,
        replace_key   text,
        replaced      integer,
        dropped       integer,
        scheduled_for timestamptz,
        scheduled_at  timestamptz,
        expires_at    timestamptz,
        version       integer,
        updated_at    timestamptz,
        recalled_at   timestamptz,
        first_seen_at timestamptz NOT NULL DEFAULT now(),
        window_at     timestamptz GENERATED ALWAYS AS (coalesce(created_at, scheduled_for, first_seen_at)) STORED
      )`,
      'CREATE INDEX IF NOT EXISTS messages_window_at_idx ON messages (window_at, id)',
      'CREATE INDEX IF NOT EXISTS messages_category_idx ON messages (category, window_at)',
      // At most one per (message, user, kind): the event id is derived from the three.
      `CREATE TABLE IF NOT EXISTS engagements (
        event_id    text PRIMARY KEY,
        message_id  text NOT NULL,
        user_id     text NOT NULL,
        kind        text NOT NULL,
        action      text,
        category    text,
        session_id  text NOT NULL,
        gateway_id  text NOT NULL,
        at          timestamptz NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now()
      )`,
      'CREATE INDEX IF NOT EXISTS engagements_message_idx ON engagements (message_id, kind)',
      'CREATE INDEX IF NOT EXISTS engagements_at_idx ON engagements (at)',
      // Engagements whose exposure is not stored yet, checked again every CONSUMER_ENGAGEMENT_RECHECK_MS
      // up to CONSUMER_ENGAGEMENT_RECHECKS times, then stored or refused (engagement-holds.ts).
      `CREATE TABLE IF NOT EXISTS engagement_holds (
        event_id      text PRIMARY KEY,
        message_id    text NOT NULL,
        user_id       text NOT NULL,
        kind          text NOT NULL,
        action        text,
        category      text,
        session_id    text NOT NULL,
        gateway_id    text NOT NULL,
        at            timestamptz NOT NULL,
        checks        integer NOT NULL DEFAULT 0,
        next_check_at timestamptz NOT NULL,
        received_at   timestamptz NOT NULL DEFAULT now()
      )`,
      'CREATE INDEX IF NOT EXISTS engagement_holds_next_check_idx ON engagement_holds (next_check_at)',
      // expired / dropped, at most one of each per (message, user).
      `CREATE TABLE IF NOT EXISTS losses (
        event_id    text PRIMARY KEY,
        message_id  text NOT NULL,
        user_id     text NOT NULL,
        kind        text NOT NULL,
        category    text,
        at          timestamptz NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now()
      )`,
      'CREATE INDEX IF NOT EXISTS losses_message_idx ON losses (message_id, kind)',
      'CREATE INDEX IF NOT EXISTS losses_at_idx ON losses (at)',
    ],
  },
  {
    id: 4,
    name: 'web push outcomes',
    statements: [
      // One row per outcome event (issue 19): a push to one of a user's subscriptions was sent,
      // failed, found gone or throttled; the funnel counts the users a push reached (`nudged`).
      `CREATE TABLE IF NOT EXISTS webpush_outcomes (
        event_id        text PRIMARY KEY,
        message_id      text NOT NULL,
        user_id         text NOT NULL,
        subscription_id text NOT NULL,
        status          text NOT NULL,
        http_status     integer,
        at              timestamptz NOT NULL,
        received_at     timestamptz NOT NULL DEFAULT now()
      )`,
      'CREATE INDEX IF NOT EXISTS webpush_outcomes_message_idx ON webpush_outcomes (message_id, status)',
      'CREATE INDEX IF NOT EXISTS webpush_outcomes_at_idx ON webpush_outcomes (at)',
    ],
  },
];
