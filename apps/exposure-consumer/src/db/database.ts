/**
 * The consumer's connection pool: to DATABASE_URL when it is set (production), otherwise to an
 * embedded Postgres started for this process (development). Either way the schema is migrated
 * before the pool is handed out, and close() releases everything that was opened.
 */
import { Pool } from 'pg';
import type { ConsumerConfig } from '@herald/config';
import { runAll } from '@herald/http';
import type { Logger } from '@herald/logger';
import { startEmbeddedPostgres, type RunningEmbeddedPostgres } from './embedded-postgres';
import { migrate } from './migrate';

export type DatabaseConfig = Pick<ConsumerConfig, 'DATABASE_URL' | 'EMBEDDED_PG_DIR' | 'EMBEDDED_PG_PORT'>;

export interface Database {
  pool: Pool;
  /** `embedded` when this process started its own Postgres. */
  kind: 'external' | 'embedded';
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** Pool size. @default 10 */
  maxConnections?: number;
  /** How long to wait for a connection before failing (a dead server must not hang /readyz). @default 5000 */
  connectTimeoutMs?: number;
  /** Longest a statement may run (an analyst's query included). @default 30000 */
  statementTimeoutMs?: number;
}

export async function openDatabase(config: DatabaseConfig, logger: Logger, opts: DatabaseOptions = {}): Promise<Database> {
  const log = logger.child({ module: 'database' });
  let embedded: RunningEmbeddedPostgres | undefined;
  let url = config.DATABASE_URL;
  if (!url) {
    embedded = await startEmbeddedPostgres({ dir: config.EMBEDDED_PG_DIR, port: config.EMBEDDED_PG_PORT, logger });
    url = embedded.url;
  }
  const pool = new Pool({
    connectionString: url,
    max: opts.maxConnections ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
    statement_timeout: opts.statementTimeoutMs ?? 30_000,
    application_name: 'herald-exposure-consumer',
  });
  // An idle client losing its connection emits here; without a listener it would crash the process.
  pool.on('error', (err) => log.warn({ err }, 'idle Postgres connection failed'));

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= runAll([() => pool.end(), () => embedded?.stop()]));

  try {
    await migrate(pool, log);
  } catch (err) {
    await close().catch((closeErr: unknown) => log.warn({ err: closeErr }, 'closing the database after a failed start failed'));
    throw err;
  }
  return { pool, kind: embedded ? 'embedded' : 'external', close };
}
