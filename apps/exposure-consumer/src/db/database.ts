/**
 * The consumer's connection pools: to DATABASE_URL when it is set (production), otherwise to an
 * embedded Postgres started for this process (development). Two pools, one per role: the writer's
 * (inserts, dead letters, partition maintenance, migrations) and a smaller reader pool with a
 * shorter statement timeout for the analyst API, so that however many wide queries analysts run,
 * the inserts never wait for a connection behind them. Either way the schema is migrated before
 * the pools are handed out, and close() releases everything that was opened.
 */
import { Pool } from 'pg';
import type { ConsumerConfig } from '@herald/config';
import { runAll } from '@herald/http';
import type { Logger } from '@herald/logger';
import { startEmbeddedPostgres, type RunningEmbeddedPostgres } from './embedded-postgres';
import { migrate } from './migrate';

export type DatabaseConfig = Pick<
  ConsumerConfig,
  'DATABASE_URL' | 'EMBEDDED_PG_DIR' | 'EMBEDDED_PG_PORT' | 'CONSUMER_READ_POOL_SIZE' | 'CONSUMER_READ_STATEMENT_TIMEOUT_MS'
>;

export interface Database {
  /** The writer's pool: inserts, dead letters, partition maintenance, the readiness probe. */
  pool: Pool;
  /** The analyst API's pool (CONSUMER_READ_POOL_SIZE, CONSUMER_READ_STATEMENT_TIMEOUT_MS). */
  readPool: Pool;
  /** `embedded` when this process started its own Postgres. */
  kind: 'external' | 'embedded';
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** The writer's pool size. @default 10 */
  maxConnections?: number;
  /**
   * How long to wait for a connection, from either pool, before failing (a dead server must not
   * hang /readyz; an analyst query must not queue forever behind busy readers). @default 5000
   */
  connectTimeoutMs?: number;
  /** Longest a writer's statement may run. @default 30000 */
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
  const connectionTimeoutMillis = opts.connectTimeoutMs ?? 5000;
  const pool = new Pool({
    connectionString: url,
    max: opts.maxConnections ?? 10,
    connectionTimeoutMillis,
    statement_timeout: opts.statementTimeoutMs ?? 30_000,
    application_name: 'herald-exposure-consumer',
  });
  const readPool = new Pool({
    connectionString: url,
    max: config.CONSUMER_READ_POOL_SIZE,
    connectionTimeoutMillis,
    statement_timeout: config.CONSUMER_READ_STATEMENT_TIMEOUT_MS,
    application_name: 'herald-exposure-consumer-reader',
  });
  // An idle client losing its connection emits here; without a listener it would crash the process.
  pool.on('error', (err) => log.warn({ err, pool: 'writer' }, 'idle Postgres connection failed'));
  readPool.on('error', (err) => log.warn({ err, pool: 'reader' }, 'idle Postgres connection failed'));

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= runAll([() => pool.end(), () => readPool.end(), () => embedded?.stop()]));

  try {
    await migrate(pool, log);
  } catch (err) {
    await close().catch((closeErr: unknown) => log.warn({ err: closeErr }, 'closing the database after a failed start failed'));
    throw err;
  }
  return { pool, readPool, kind: embedded ? 'embedded' : 'external', close };
}
