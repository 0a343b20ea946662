/**
 * Brings the schema up to date at start. All pending migrations run in one transaction under an
 * advisory lock, so replicas starting together neither race nor see a half-made schema.
 */
import type { Pool } from 'pg';
import type { Logger } from '@herald/logger';
import { DatabaseError } from './database-error';
import { MIGRATIONS, type Migration } from './schema';

/** Arbitrary, fixed: the key of the advisory lock that serialises migrations. */
const MIGRATION_LOCK_KEY = 0x4845_5241; // "HERA"

export async function migrate(pool: Pool, logger: Logger, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS herald_schema_migrations (
      id         integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ id: number }>('SELECT id FROM herald_schema_migrations');
    const done = new Set(rows.map((r) => r.id));
    const applied: number[] = [];
    for (const migration of migrations) {
      if (done.has(migration.id)) continue;
      for (const statement of migration.statements) await client.query(statement);
      await client.query('INSERT INTO herald_schema_migrations (id, name) VALUES ($1, $2)', [migration.id, migration.name]);
      applied.push(migration.id);
    }
    await client.query('COMMIT');
    if (applied.length > 0) logger.info({ applied }, 'schema migrated');
    return applied;
  } catch (err) {
    // The migration's own error is the one worth reporting; a failed ROLLBACK adds nothing to it.
    await client.query('ROLLBACK').catch((rollbackErr: unknown) => logger.debug({ err: rollbackErr }, 'rollback failed'));
    throw new DatabaseError('MIGRATION_FAILED', `Migrating the exposure schema failed: ${(err as Error).message}`, { cause: err });
  } finally {
    client.release();
  }
}
