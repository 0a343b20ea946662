/**
 * The daily partitions of `exposures` (migration 2): `exposures_pYYYYMMDD` holds the rows delivered
 * on that UTC day, `exposures_default` the rows of days without a partition. ensurePartitions
 * creates the days around now ahead of the traffic; dropExpiredPartitions drops the whole days past
 * the retention. Both are serialised across replicas by an advisory lock and return what they did.
 *
 * Every change runs in its own short transaction, with a lock timeout once the advisory lock is
 * held: maintenance that would queue behind a long analyst query (and the ingest behind it) gives
 * up instead, and the next run tries again. Until a day's partition exists its rows go to the
 * default partition, so the ingest never waits for maintenance.
 */
import type { Pool, PoolClient } from 'pg';
import type { Logger } from '@herald/logger';
import { inTransaction } from './transaction';

/** Arbitrary, fixed, and not migrate.ts's: the key of the advisory lock that serialises partition changes. */
const PARTITION_LOCK_KEY = 0x5041_5254; // "PART"
/** How long a maintenance statement waits for a table lock before it gives up until the next run. */
const LOCK_TIMEOUT = '5s';
const DAY_MS = 86_400_000;
const DEFAULT_PARTITION = 'exposures_default';
const DAY_PARTITION = /^exposures_p(\d{4})(\d{2})(\d{2})$/;

export interface EnsurePartitionsOptions {
  /** The day the window is around. */
  now: Date;
  /** Days before now's UTC day that get a partition. @default 1 */
  daysBack?: number;
  /** Days after now's UTC day that get a partition. @default 2 */
  daysAhead?: number;
}

export interface EnsurePartitionsResult {
  /** Partitions this call created, oldest first (none when they all existed). */
  created: string[];
  /** Rows moved out of the default partition into the created ones. */
  rowsMoved: number;
}

export interface DropExpiredOptions {
  now: Date;
  /** Whole UTC days kept before now's day; 0 keeps everything. */
  retentionDays: number;
}

export interface DropExpiredResult {
  /** Day partitions detached and dropped, oldest first. */
  dropped: string[];
  /** Expired rows deleted from the default partition. */
  defaultRowsDeleted: number;
}

/** `exposures_pYYYYMMDD` for the UTC day of `day`. */
export function partitionName(day: Date): string {
  return `exposures_p${day.toISOString().slice(0, 10).replace(/-/g, '')}`;
}

/**
 * Creates the partitions of now's UTC day, `daysBack` days before it and `daysAhead` after it,
 * unless they exist. Rows of a created day already in the default partition are moved into it.
 */
export async function ensurePartitions(pool: Pool, logger: Logger, opts: EnsurePartitionsOptions): Promise<EnsurePartitionsResult> {
  const daysBack = wholeDays(opts.daysBack ?? 1, 'daysBack');
  const daysAhead = wholeDays(opts.daysAhead ?? 2, 'daysAhead');
  const log = logger.child({ module: 'partitions' });
  const today = startOfUtcDay(opts.now);
  const existing = new Set((await dayPartitions(pool)).map((p) => p.name));

  const created: string[] = [];
  let rowsMoved = 0;
  for (let offset = -daysBack; offset <= daysAhead; offset++) {
    const day = today + offset * DAY_MS;
    const name = partitionName(new Date(day));
    if (existing.has(name)) continue;
    const moved = await createDayPartition(pool, log, day);
    if (moved === undefined) continue;
    created.push(name);
    rowsMoved += moved;
  }
  if (created.length > 0) log.info({ created, rowsMoved }, 'exposure partitions created');
  return { created, rowsMoved };
}

/**
 * With `retentionDays` > 0, detaches and drops the day partitions whose whole day is older than
 * now − retentionDays, and deletes the default partition's rows older than the first day kept.
 * The default partition itself is never dropped.
 */
export async function dropExpiredPartitions(pool: Pool, logger: Logger, opts: DropExpiredOptions): Promise<DropExpiredResult> {
  const retentionDays = wholeDays(opts.retentionDays, 'retentionDays');
  if (retentionDays === 0) return { dropped: [], defaultRowsDeleted: 0 };
  const log = logger.child({ module: 'partitions' });
  // A day [d, d + 1) is wholly older than now − retentionDays when d + 1 <= that instant, that is
  // when d is before the UTC day of now − retentionDays.
  const keepFrom = startOfUtcDay(opts.now) - retentionDays * DAY_MS;

  const dropped: string[] = [];
  for (const partition of await dayPartitions(pool)) {
    if (partition.day >= keepFrom) continue;
    const done = await withPartitionLock(pool, async (client) => {
      // Another replica may have dropped it since it was listed.
      if ((await tableState(client, partition.name)) !== 'attached') return false;
      const table = client.escapeIdentifier(partition.name);
      await client.query(`ALTER TABLE exposures DETACH PARTITION ${table}`);
      await client.query(`DROP TABLE ${table}`);
      return true;
    });
    if (done) dropped.push(partition.name);
  }
  const defaultRowsDeleted = await withPartitionLock(pool, async (client) => {
    const result = await client.query(`DELETE FROM ${DEFAULT_PARTITION} WHERE delivered_at < $1`, [new Date(keepFrom).toISOString()]);
    return result.rowCount ?? 0;
  });
  if (dropped.length > 0 || defaultRowsDeleted > 0) {
    log.info({ dropped, defaultRowsDeleted, keepFrom: new Date(keepFrom).toISOString() }, 'expired exposures dropped');
  }
  return { dropped, defaultRowsDeleted };
}

/**
 * One day's partition, made in one transaction: a table like the parent, the day's rows moved into
 * it from the default partition, then attached. (Creating it with PARTITION OF would fail instead
 * when the default partition holds rows of that day.) Undefined when it exists already.
 */
async function createDayPartition(pool: Pool, log: Logger, day: number): Promise<number | undefined> {
  const name = partitionName(new Date(day));
  return withPartitionLock(pool, async (client) => {
    const state = await tableState(client, name);
    if (state === 'attached') return undefined;
    if (state === 'detached') {
      // Someone else's table (an archive being dumped, say): left alone; the day's rows stay in the default partition.
      log.warn({ table: name }, 'a table named like the day partition exists but is not attached to exposures; not touching it');
      return undefined;
    }
    const table = client.escapeIdentifier(name);
    const bounds = client.escapeIdentifier(`${name}_bounds`);
    const from = new Date(day).toISOString();
    const to = new Date(day + DAY_MS).toISOString();
    const [fromLiteral, toLiteral] = [client.escapeLiteral(from), client.escapeLiteral(to)];

    // First, so that no row of the day reaches the default partition between the move and ATTACH
    // (which checks that the default partition holds none); ATTACH would take this lock anyway.
    await client.query(`LOCK TABLE ${DEFAULT_PARTITION} IN ACCESS EXCLUSIVE MODE`);
    await client.query(`CREATE TABLE ${table} (LIKE exposures INCLUDING DEFAULTS)`);
    // Lets ATTACH skip scanning the new table; dropped once attached, where the bound says the same.
    await client.query(`ALTER TABLE ${table} ADD CONSTRAINT ${bounds} CHECK (delivered_at >= ${fromLiteral} AND delivered_at < ${toLiteral})`);
    // By name, so the column order of the two tables does not matter and a column added later moves too.
    const columns = await columnList(client);
    const moved = await client.query(
      `WITH moved AS (
         DELETE FROM ${DEFAULT_PARTITION} WHERE delivered_at >= $1 AND delivered_at < $2 RETURNING ${columns}
       )
       INSERT INTO ${table} (${columns}) SELECT ${columns} FROM moved`,
      [from, to],
    );
    // The parent's primary key and indexes are built on the partition here, after the rows are in.
    await client.query(`ALTER TABLE exposures ATTACH PARTITION ${table} FOR VALUES FROM (${fromLiteral}) TO (${toLiteral})`);
    await client.query(`ALTER TABLE ${table} DROP CONSTRAINT ${bounds}`);
    return moved.rowCount ?? 0;
  });
}

/** The attached partitions named `exposures_pYYYYMMDD`, with their day, oldest first. */
async function dayPartitions(pool: Pool): Promise<Array<{ name: string; day: number }>> {
  const { rows } = await pool.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'exposures'::regclass`,
  );
  const partitions: Array<{ name: string; day: number }> = [];
  for (const { name } of rows) {
    const match = DAY_PARTITION.exec(name);
    if (match) partitions.push({ name, day: Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) });
  }
  return partitions.sort((a, b) => a.day - b.day);
}

async function tableState(client: PoolClient, name: string): Promise<'missing' | 'attached' | 'detached'> {
  const { rows } = await client.query<{ attached: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = c.oid AND inhparent = 'exposures'::regclass) AS attached
     FROM pg_class c WHERE c.oid = to_regclass($1)`,
    [name],
  );
  if (rows.length === 0) return 'missing';
  return rows[0].attached ? 'attached' : 'detached';
}

async function columnList(client: PoolClient): Promise<string> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT attname AS name FROM pg_attribute
     WHERE attrelid = 'exposures'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
  );
  return rows.map((r) => client.escapeIdentifier(r.name)).join(', ');
}

/** Runs `fn` in a transaction holding the partition lock, with a lock timeout for everything after it. */
function withPartitionLock<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(pool, async (client) => {
    // Waiting for another replica's change is expected and short, so only what follows is bounded.
    await client.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK_KEY]);
    await client.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
    return fn(client);
  });
}

function startOfUtcDay(date: Date): number {
  return Math.floor(date.getTime() / DAY_MS) * DAY_MS;
}

function wholeDays(value: number, option: string): number {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${option} must be a whole number of days >= 0, got ${value}`);
  return value;
}
