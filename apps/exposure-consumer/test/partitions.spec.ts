/**
 * Daily partitions of `exposures` on a real Postgres: migration 2 converts a populated table, rows
 * land in their day's partition, redeliveries still dedupe, rows waiting in the default partition
 * move into their day when it is created, retention drops whole days only, replicas maintaining at
 * once agree, and the consumer does all this at start.
 */
process.env.METADATA_SERVER_DETECTION = 'none';

import { createLogger } from '@herald/logger';
import { waitFor } from '@herald/testing';
import type { ExposureEvent } from '@herald/types';
import { buildConsumer } from '../src/app';
import { dropExpiredEvents } from '../src/db/event-retention';
import { EventWriter } from '../src/db/event-writer';
import { ExposureStore } from '../src/db/exposure-store';
import { migrate } from '../src/db/migrate';
import { startPartitionMaintenance } from '../src/db/partition-maintenance';
import { dropExpiredPartitions, ensurePartitions, partitionName } from '../src/db/partitions';
import { MIGRATIONS } from '../src/db/schema';
import { engagementOf, exposureOf, lossOf, messageEventOf, webPushOf } from './support/events';
import { exposure, silentLogger, testConfig } from './support/fixtures';
import {
  allRows,
  at,
  DAY,
  day,
  dayName,
  indexesOf,
  partitionsOf,
  range,
  sharedPartitionDatabases,
  tableExists,
  whereStored,
} from './support/partition-databases';

jest.setTimeout(60_000);

const { freshDatabase, poolFor, migratedPool } = sharedPartitionDatabases();

describe('migration 2', () => {
  test('turns a populated migration-1 table into daily partitions without losing or changing a row', async () => {
    const pool = poolFor(await freshDatabase());
    expect(await migrate(pool, silentLogger, MIGRATIONS.filter((m) => m.id === 1))).toEqual([1]);
    // Days in the past get a partition each; a day far ahead goes to the default partition.
    const past = (d: number, hour: number) => new Date(Date.UTC(2025, 5, 1 + d, hour)).toISOString();
    const events: ExposureEvent[] = [
      exposure({ deliveredAt: past(0, 0) }),
      exposure({ deliveredAt: past(0, 23), category: 'news', via: 'offline' }),
      exposure({ deliveredAt: past(1, 5), userId: 'user-2' }),
      exposure({ deliveredAt: past(5, 12), category: 'sports' }),
      exposure({ deliveredAt: '2099-01-01T00:00:00.000Z' }),
    ];
    for (const [i, e] of events.entries()) {
      await pool.query(
        `INSERT INTO exposures (event_id, message_id, user_id, category, session_id, gateway_id, delivered_at, via, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [e.eventId, e.messageId, e.userId, e.category, e.sessionId, e.gatewayId, e.deliveredAt, e.via, new Date(Date.UTC(2025, 6, 1, 0, i))],
      );
    }
    const before = await allRows(pool);
    const indexesBefore = await indexesOf(pool, 'exposures');

    expect(await migrate(pool, silentLogger, MIGRATIONS.filter((m) => m.id <= 2))).toEqual([2]);

    expect(await allRows(pool)).toEqual(before);
    expect((await pool.query(`SELECT relkind FROM pg_class WHERE oid = 'exposures'::regclass`)).rows[0].relkind).toBe('p');
    const { rows: keys } = await pool.query(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'exposures'::regclass AND contype = 'p'`);
    expect(keys.map((k) => k.def)).toEqual(['PRIMARY KEY (event_id, delivered_at)']);
    expect(await whereStored(pool)).toEqual({
      exposures_p20250601: 2,
      exposures_p20250602: 1,
      exposures_p20250606: 1,
      exposures_default: 1,
    });
    // The same four indexes as before, the key now with delivered_at, on the parent and every partition.
    const expectedIndexes = indexesBefore.map((def) => def.replace('btree (event_id)', 'btree (event_id, delivered_at)')).sort();
    expect(await indexesOf(pool, 'exposures')).toEqual(expectedIndexes);
    for (const partition of await partitionsOf(pool)) expect(await indexesOf(pool, partition)).toEqual(expectedIndexes);
    expect(await tableExists(pool, 'exposures_unpartitioned')).toBe(false);

    expect(await migrate(pool, silentLogger)).toEqual([3, 4]);
    expect(await new ExposureStore(pool).insertBatch(events)).toEqual({ inserted: 0, duplicates: events.length });
  });
});

describe('inserts', () => {
  test('events of three days land in three partitions', async () => {
    const pool = await migratedPool();
    expect(await ensurePartitions(pool, silentLogger, { now: day(1) })).toEqual({ created: range(0, 3).map(dayName), rowsMoved: 0 });

    // The first and the last millisecond of a day, and a midday.
    const lastOfDay2 = new Date(day(3).getTime() - 1).toISOString();
    const events = [exposure({ deliveredAt: at(0, 0) }), exposure({ deliveredAt: at(1) }), exposure({ deliveredAt: lastOfDay2 })];
    expect(await new ExposureStore(pool).insertBatch(events)).toEqual({ inserted: 3, duplicates: 0 });
    expect(await whereStored(pool)).toEqual({ [dayName(0)]: 1, [dayName(1)]: 1, [dayName(2)]: 1 });
  });

  test('a redelivered event (same eventId and deliveredAt) in a later batch is a duplicate, in a day partition and in the default one', async () => {
    const pool = await migratedPool();
    const store = new ExposureStore(pool);
    await ensurePartitions(pool, silentLogger, { now: day(0) });
    const inDay = exposure({ deliveredAt: at(0) });
    const inDefault = exposure({ deliveredAt: at(400) });
    expect(await store.insertBatch([inDay, inDefault])).toEqual({ inserted: 2, duplicates: 0 });

    expect(await store.insertBatch([exposure({ deliveredAt: at(1) }), { ...inDay }, { ...inDefault }])).toEqual({ inserted: 1, duplicates: 2 });
    expect(await whereStored(pool)).toEqual({ [dayName(0)]: 1, [dayName(1)]: 1, exposures_default: 1 });
    const { rows } = await pool.query('SELECT event_id FROM exposures WHERE event_id = ANY($1)', [[inDay.eventId, inDefault.eventId]]);
    expect(rows).toHaveLength(2);
  });
});

describe('ensurePartitions', () => {
  test('a row far ahead waits in the default partition and moves into its day when that day is created', async () => {
    const pool = await migratedPool();
    const store = new ExposureStore(pool);
    await ensurePartitions(pool, silentLogger, { now: day(0) });
    const far = [exposure({ deliveredAt: at(30, 0) }), exposure({ deliveredAt: at(30, 23) })];
    const farther = exposure({ deliveredAt: at(40) });
    await store.insertBatch([...far, farther]);
    expect(await whereStored(pool)).toEqual({ exposures_default: 3 });
    const before = await allRows(pool);

    expect(await ensurePartitions(pool, silentLogger, { now: day(30), daysBack: 0, daysAhead: 0 })).toEqual({ created: [dayName(30)], rowsMoved: 2 });

    expect(await whereStored(pool)).toEqual({ [dayName(30)]: 2, exposures_default: 1 });
    expect(await allRows(pool)).toEqual(before);
    // Attached with the parent's key and indexes, without the CHECK that only sped up the attach.
    expect(await indexesOf(pool, dayName(30))).toEqual(await indexesOf(pool, 'exposures'));
    const { rows: checks } = await pool.query(`SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c'`, [dayName(30)]);
    expect(checks).toEqual([]);
    expect(await store.insertBatch([far[0]])).toEqual({ inserted: 0, duplicates: 1 });
  });

  test('a row of the day being created that is still being written is waited for and moved too', async () => {
    const pool = await migratedPool();
    const writer = await pool.connect();
    try {
      await writer.query('BEGIN');
      await writer.query(
        `INSERT INTO exposures (event_id, message_id, user_id, category, session_id, gateway_id, delivered_at, via)
         VALUES ('evt-in-flight', 'm', 'u', NULL, 's', 'g', $1, 'live')`,
        [at(20)],
      );
      const creating = ensurePartitions(pool, silentLogger, { now: day(20), daysBack: 0, daysAhead: 0 });
      // Commit only once the maintenance is waiting for this transaction's lock on the default partition.
      await waitFor(
        async () => {
          const { rows } = await pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = 'exposures_default'::regclass`,
          );
          return rows[0].n > 0;
        },
        { what: 'ensurePartitions to wait for the lock on exposures_default' },
      );
      await writer.query('COMMIT');
      expect(await creating).toEqual({ created: [dayName(20)], rowsMoved: 1 });
    } finally {
      writer.release();
    }
    expect(await whereStored(pool)).toEqual({ [dayName(20)]: 1 });
  });

  test('is idempotent, safe when two replicas run it at once, and leaves a detached table of the same name alone', async () => {
    const url = await freshDatabase();
    const [a, b] = [poolFor(url), poolFor(url)];
    await migrate(a, silentLogger);
    await new ExposureStore(a).insertBatch([exposure({ deliveredAt: at(5, 1) }), exposure({ deliveredAt: at(5, 2) }), exposure({ deliveredAt: at(7) })]);

    const window = { now: day(5), daysBack: 3, daysAhead: 3 };
    const [ra, rb] = await Promise.all([ensurePartitions(a, silentLogger, window), ensurePartitions(b, silentLogger, window)]);
    expect([...ra.created, ...rb.created].sort()).toEqual(range(2, 8).map(dayName));
    expect(ra.rowsMoved + rb.rowsMoved).toBe(3);
    expect(await whereStored(a)).toEqual({ [dayName(5)]: 2, [dayName(7)]: 1 });
    expect(await ensurePartitions(b, silentLogger, window)).toEqual({ created: [], rowsMoved: 0 });

    // An archive being dumped, say: a table with a day's name that is not a partition of exposures.
    await a.query(`CREATE TABLE ${dayName(9)} (LIKE exposures)`);
    expect(await ensurePartitions(a, silentLogger, { now: day(9), daysBack: 0, daysAhead: 1 })).toEqual({ created: [dayName(10)], rowsMoved: 0 });
    expect(await partitionsOf(a)).not.toContain(dayName(9));
  });

  test('rejects a window that is not whole days', async () => {
    const pool = await migratedPool();
    await expect(ensurePartitions(pool, silentLogger, { now: day(0), daysBack: -1 })).rejects.toThrow(/daysBack/);
    await expect(dropExpiredPartitions(pool, silentLogger, { now: day(0), retentionDays: 1.5 })).rejects.toThrow(/retentionDays/);
  });
});

describe('dropExpiredPartitions', () => {
  test('drops the day partitions wholly older than the retention and the default rows as old, keeps the rest', async () => {
    const pool = await migratedPool();
    const store = new ExposureStore(pool);
    await ensurePartitions(pool, silentLogger, { now: day(0), daysBack: 10, daysAhead: 2 });
    const perDay = range(-10, 2).map((d) => exposure({ deliveredAt: at(d) }));
    const oldInDefault = exposure({ deliveredAt: at(-40) });
    const aheadInDefault = exposure({ deliveredAt: at(50) });
    await store.insertBatch([...perDay, oldInDefault, aheadInDefault]);

    // now − 3 days is day −3 at 06:00: day −4 ended before it, day −3 did not.
    const now = day(0, 6);
    expect(await dropExpiredPartitions(pool, silentLogger, { now, retentionDays: 3 })).toEqual({
      dropped: range(-10, -4).map(dayName),
      defaultRowsDeleted: 1,
    });
    expect(await partitionsOf(pool)).toEqual([...range(-3, 2).map(dayName), 'exposures_default'].sort());
    for (const d of range(-10, -4)) expect(await tableExists(pool, dayName(d))).toBe(false);
    const { rows } = await pool.query<{ event_id: string }>('SELECT event_id FROM exposures ORDER BY delivered_at');
    expect(rows.map((r) => r.event_id)).toEqual([...perDay.slice(7), aheadInDefault].map((e) => e.eventId));

    expect(await dropExpiredPartitions(pool, silentLogger, { now, retentionDays: 3 })).toEqual({ dropped: [], defaultRowsDeleted: 0 });
  });

  test('retention 0 drops nothing', async () => {
    const pool = await migratedPool();
    await ensurePartitions(pool, silentLogger, { now: day(0), daysBack: 5 });
    await new ExposureStore(pool).insertBatch([exposure({ deliveredAt: at(-5) }), exposure({ deliveredAt: at(-400) })]);
    const partitions = await partitionsOf(pool);

    expect(await dropExpiredPartitions(pool, silentLogger, { now: day(1000), retentionDays: 0 })).toEqual({ dropped: [], defaultRowsDeleted: 0 });
    expect(await partitionsOf(pool)).toEqual(partitions);
    expect(await whereStored(pool)).toEqual({ [dayName(-5)]: 1, exposures_default: 1 });
  });
});

test('retention deletes the messages, engagements, holds, losses and Web Push outcomes older than the first day kept, and nothing newer', async () => {
  const pool = await migratedPool();
  const writer = new EventWriter(pool, new ExposureStore(pool), 60_000);
  // With 30 days on day 0, the first day kept is day −30.
  const [old, kept] = [day(-31, 23).getTime(), day(-30).getTime()];
  await writer.writeBatch({
    exposures: [exposureOf('m-kept', 'u1', kept), exposureOf('m-kept', 'u2', kept)],
    messages: [messageEventOf('sent', 'm-old', old, { recipients: 2 }), messageEventOf('sent', 'm-kept', kept, { recipients: 2 })],
    engagements: [engagementOf('opened', 'm-kept', 'u1', old), engagementOf('opened', 'm-kept', 'u2', kept), engagementOf('opened', 'm-kept', 'u3', kept), engagementOf('opened', 'm-kept', 'u4', kept)],
    losses: [lossOf('expired', 'm-old', 'u1', old), lossOf('expired', 'm-kept', 'u3', kept)],
    webpush: [webPushOf('m-old', 'u1', 'sent', old), webPushOf('m-kept', 'u2', 'sent', kept)],
  });
  // u3 and u4 were never delivered: held. A hold's time is when it arrived.
  await pool.query(`UPDATE engagement_holds SET received_at = CASE user_id WHEN 'u3' THEN $1::timestamptz ELSE $2::timestamptz END`, [new Date(old), new Date(kept)]);

  expect(await dropExpiredEvents(pool, silentLogger, { now: day(0, 10), retentionDays: 30 })).toEqual({ messages: 1, engagements: 1, engagement_holds: 1, losses: 1, webpush_outcomes: 1 });
  const left = async (table: string, column: string) => (await pool.query(`SELECT ${column} AS v FROM ${table} ORDER BY 1`)).rows.map((r) => r.v);
  expect(await left('messages', 'id')).toEqual(['m-kept']);
  expect(await left('engagements', 'user_id')).toEqual(['u2']);
  expect(await left('engagement_holds', 'user_id')).toEqual(['u4']);
  expect(await left('losses', 'user_id')).toEqual(['u3']);
  expect(await left('webpush_outcomes', 'user_id')).toEqual(['u2']);
  expect(await dropExpiredEvents(pool, silentLogger, { now: day(0, 10), retentionDays: 0 })).toEqual({
    messages: 0,
    engagements: 0,
    engagement_holds: 0,
    losses: 0,
    webpush_outcomes: 0,
  });
});

test('a mixed batch is one statement: each kind counted, engagements checked against the batch too, two steps of one message, a redelivery writes nothing', async () => {
  const pool = await migratedPool();
  const writer = new EventWriter(pool, new ExposureStore(pool), 60_000);
  const t = day(0).getTime();
  await writer.writeBatch({ exposures: [exposureOf('m0', 'u0', t)], engagements: [], losses: [], messages: [], webpush: [] });
  const batch = {
    // m0/u0 again (a republish) and a new one.
    exposures: [exposureOf('m1', 'u1', t + 1), exposureOf('m0', 'u0', t)],
    // Delivered in this batch, delivered before, never delivered.
    engagements: [engagementOf('opened', 'm1', 'u1', t + 2), engagementOf('clicked', 'm0', 'u0', t + 2), engagementOf('opened', 'm9', 'u9', t + 2)],
    losses: [lossOf('expired', 'm1', 'u2', t + 3)],
    // Two steps of m1: the update is a second round (an upsert touches a row once).
    messages: [messageEventOf('sent', 'm1', t, { recipients: 3, version: 1, size: 10 }), messageEventOf('updated', 'm1', t + 5, { version: 2, size: 20 })],
    webpush: [webPushOf('m1', 'u1', 'sent', t + 4)],
  };
  const queries = jest.spyOn(pool, 'query');
  try {
    expect(await writer.writeBatch(batch)).toEqual({
      exposures: { inserted: 1, duplicates: 1 },
      engagements: { inserted: 2, held: 1, duplicates: 0 },
      losses: { inserted: 1, duplicates: 0 },
      webpush: { inserted: 1, duplicates: 0 },
      messages: 2,
    });
    // One statement for every kind, one more for the second round of m1; no BEGIN/COMMIT round trips.
    expect(queries.mock.calls.map(([text]) => String(text).trim().split(/\s/, 1)[0])).toEqual(['WITH', 'INSERT']);
  } finally {
    queries.mockRestore();
  }
  const row = async () => (await pool.query('SELECT recipients, version, size FROM messages WHERE id = $1', ['m1'])).rows[0];
  expect(await row()).toEqual({ recipients: 3, version: 2, size: 20 });
  const counts = async () => (await pool.query(`SELECT (SELECT count(*) FROM exposures)::int AS x, (SELECT count(*) FROM engagements)::int AS e, (SELECT count(*) FROM engagement_holds)::int AS h, (SELECT count(*) FROM losses)::int AS l, (SELECT count(*) FROM webpush_outcomes)::int AS w`)).rows[0];
  expect(await counts()).toEqual({ x: 2, e: 2, h: 1, l: 1, w: 1 });
  // Redelivered: nothing new, every event told apart as a duplicate.
  expect(await writer.writeBatch(batch)).toEqual({
    exposures: { inserted: 0, duplicates: 2 },
    engagements: { inserted: 0, held: 0, duplicates: 3 },
    losses: { inserted: 0, duplicates: 1 },
    webpush: { inserted: 0, duplicates: 1 },
    messages: 2,
  });
  expect(await counts()).toEqual({ x: 2, e: 2, h: 1, l: 1, w: 1 });
  expect(await row()).toEqual({ recipients: 3, version: 2, size: 20 });
});

test('maintenance logs a failed run instead of throwing, and runs again on its interval', async () => {
  const pool = poolFor(await freshDatabase()); // not migrated: there is no exposures table yet
  const lines: Array<{ level: number; msg: string }> = [];
  const logger = createLogger({ app: 'partitions-test', level: 'error', destination: { write: (line: string) => lines.push(JSON.parse(line)) } });
  const maintenance = await startPartitionMaintenance({ pool, logger, retentionDays: 7, intervalMs: 50 });
  try {
    expect(lines.map((l) => l.msg)).toEqual([
      expect.stringMatching(/^creating exposure partitions failed/),
      expect.stringMatching(/^dropping expired/),
      expect.stringMatching(/^deleting expired messages, engagements and losses failed/),
    ]);
    await migrate(pool, silentLogger);
    await waitFor(async () => (await partitionsOf(pool)).includes(partitionName(new Date())), { what: 'a later run creating today' });
  } finally {
    await maintenance.close();
  }
  await maintenance.close();
});

test('the consumer creates the days around today at start and drops those past EXPOSURE_RETENTION_DAYS', async () => {
  const url = await freshDatabase();
  const pool = poolFor(url);
  await migrate(pool, silentLogger);
  const today = new Date();
  const longAgo = new Date(today.getTime() - 40 * DAY);
  await ensurePartitions(pool, silentLogger, { now: longAgo, daysBack: 0, daysAhead: 0 });

  const consumer = await buildConsumer({ config: testConfig({ databaseUrl: url }, { EXPOSURE_RETENTION_DAYS: '30' }), logger: silentLogger });
  try {
    const partitions = await partitionsOf(pool);
    expect(partitions).toEqual(expect.arrayContaining([partitionName(today), partitionName(new Date(today.getTime() + 2 * DAY))]));
    expect(partitions).not.toContain(partitionName(longAgo));
  } finally {
    await consumer.close();
  }
});
