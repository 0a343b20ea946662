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
 * Daily partitioning of `exposures` will be its own migration.
 */
export interface Migration {
  id: number;
  name: string;
  statements: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'exposures and dead letters',
    statements: [
      `CREATE TABLE IF NOT EXISTS exposures (
        event_id     text PRIMARY KEY,
        message_id   text NOT NULL,
        user_id      text NOT NULL,
        category     text,
        session_id   text NOT NULL,
        gateway_id   text NOT NULL,
        delivered_at timestamptz NOT NULL,
        via          text NOT NULL,
        received_at  timestamptz NOT NULL DEFAULT now()
      )`,
      'CREATE INDEX IF NOT EXISTS exposures_delivered_at_idx ON exposures (delivered_at, event_id)',
      'CREATE INDEX IF NOT EXISTS exposures_message_id_idx ON exposures (message_id, delivered_at, event_id)',
      'CREATE INDEX IF NOT EXISTS exposures_user_id_idx ON exposures (user_id, delivered_at, event_id)',
      'CREATE INDEX IF NOT EXISTS exposures_category_idx ON exposures (category, delivered_at, event_id)',
      `CREATE TABLE IF NOT EXISTS dead_letters (
        id                bigserial PRIMARY KEY,
        pubsub_message_id text,
        data              text,
        reason            text,
        received_at       timestamptz DEFAULT now()
      )`,
    ],
  },
];
