/**
 * What the partition tests (partitions.spec.ts) stand on: days around a fixed day 0, a Postgres
 * server of the file's own with a fresh database per test, and queries that show where Postgres
 * stored the rows, which partitions and indexes exist.
 */
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { startPostgres, type TestPostgres } from '@herald/testing';
import { migrate } from '../../src/db/migrate';
import { partitionName } from '../../src/db/partitions';
import { silentLogger } from './fixtures';

export const DAY = 86_400_000;
const HOUR = 3_600_000;
/** Day 0 of most tests: later than any clock running them, so the real "now" creates none of its days. */
const D0 = Date.UTC(2032, 2, 10);
export const day = (n: number, hours = 0) => new Date(D0 + n * DAY + hours * HOUR);
export const at = (n: number, hours = 12) => day(n, hours).toISOString();
export const dayName = (n: number) => partitionName(day(n));
export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

export interface PartitionDatabases {
  /** A database of its own on the file's server, so every test starts from an empty schema. */
  freshDatabase(): Promise<string>;
  /** A pool on `url`, ended after the file's tests. */
  poolFor(url: string): Pool;
  /** A pool on a fresh database with every migration applied. */
  migratedPool(): Promise<Pool>;
}

/**
 * One Postgres server for the tests of a file: started before the first, and after the last every
 * pool ended, every database dropped and the server stopped.
 */
export function sharedPartitionDatabases(): PartitionDatabases {
  let postgres: TestPostgres;
  let admin: Pool;
  const databases: string[] = [];
  const pools: Pool[] = [];

  beforeAll(async () => {
    postgres = await startPostgres();
    admin = new Pool({ connectionString: postgres.url, max: 1 });
    // An idle connection Postgres ends (57P01) must not crash the file: the pool connects again.
    admin.on('error', () => undefined);
  });

  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    for (const name of databases) await admin?.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin?.end();
    await postgres?.stop();
  });

  async function freshDatabase(): Promise<string> {
    const name = `herald_partitions_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${name}`);
    databases.push(name);
    const url = new URL(postgres.url);
    url.pathname = `/${name}`;
    return url.toString();
  }

  function poolFor(url: string): Pool {
    const pool = new Pool({ connectionString: url, max: 4 });
    pool.on('error', () => undefined);
    pools.push(pool);
    return pool;
  }

  async function migratedPool(): Promise<Pool> {
    const pool = poolFor(await freshDatabase());
    await migrate(pool, silentLogger);
    return pool;
  }

  return { freshDatabase, poolFor, migratedPool };
}

/** Rows per table they are stored in, as Postgres routed them. */
export async function whereStored(pool: Pool): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ partition: string; n: number }>(
    'SELECT tableoid::regclass::text AS partition, count(*)::int AS n FROM exposures GROUP BY 1 ORDER BY 1',
  );
  return Object.fromEntries(rows.map((r) => [r.partition, r.n]));
}

export async function partitionsOf(pool: Pool): Promise<string[]> {
  const { rows } = await pool.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'exposures'::regclass ORDER BY 1`,
  );
  return rows.map((r) => r.name);
}

export async function indexesOf(pool: Pool, table: string): Promise<string[]> {
  const { rows } = await pool.query<{ def: string }>(
    // The definition without the index and table names, which differ between parent and partitions.
    `SELECT regexp_replace(indexdef, '^.* USING ', '') AS def FROM pg_indexes WHERE tablename = $1 ORDER BY 1`,
    [table],
  );
  return rows.map((r) => r.def);
}

export const allRows = async (pool: Pool) => (await pool.query('SELECT * FROM exposures ORDER BY event_id')).rows;
export const tableExists = async (pool: Pool, name: string) => (await pool.query('SELECT to_regclass($1) AS t', [name])).rows[0].t !== null;
