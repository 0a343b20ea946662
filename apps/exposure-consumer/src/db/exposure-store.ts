/**
 * The exposures' rows in Postgres: batches of exposure events (deduplicated by event id and
 * deliveredAt), dead letters, the analysts' filtered pages and the grouped counts. Their SQL lives
 * here and nowhere else (the schema's is in schema.ts and partitions.ts; the other kinds' in
 * event-store.ts, engagement-holds.ts and funnel-store.ts). Writes go through the writer's pool, the analysts' reads through the reader
 * pool (database.ts), whose timeouts become QUERY_TIMEOUT / ANALYTICS_BUSY (read-errors.ts).
 */
import type { Pool, QueryResult, QueryResultRow } from 'pg';
import type { ExposureEvent } from '@herald/types';
import { toReadError } from './read-errors';
import { textArrayLiteral } from './text-array';
import { unnestOf } from './unnest';

export interface InsertResult {
  /** Rows written. */
  inserted: number;
  /** Events skipped because they were stored already (a redelivery or a republish: same eventId and deliveredAt). */
  duplicates: number;
}

export interface DeadLetter {
  pubsubMessageId: string;
  data: string;
  reason: string;
}

/** A place in the (delivered_at, event_id) order; pages continue strictly after it. */
export interface Position {
  deliveredAt: string;
  eventId: string;
}

export interface ExposureFilters {
  messageId?: string;
  userId?: string;
  category?: string;
  /** Inclusive lower bound on deliveredAt. */
  from?: string;
  /** Exclusive upper bound on deliveredAt. */
  to?: string;
  after?: Position;
  limit: number;
}

export interface ExposurePage {
  items: ExposureEvent[];
  /** True when rows after the last item match too. */
  hasMore: boolean;
}

export type StatsGroup = 'message' | 'category' | 'hour';

export interface StatsQuery {
  groupBy: StatsGroup;
  from?: string;
  to?: string;
  limit: number;
}

export interface StatsItem {
  /** Message id, category (null for messages sent to users directly) or hour (ISO, UTC). */
  key: string | null;
  exposures: number;
  users: number;
}

interface ExposureRow {
  event_id: string;
  message_id: string;
  user_id: string;
  category: string | null;
  session_id: string;
  gateway_id: string;
  delivered_at: Date;
  via: 'offline' | 'live';
}

const COLUMNS = 'event_id, message_id, user_id, category, session_id, gateway_id, delivered_at, via';

/** The exposures' insert as a part of a batch's statement (batch-statement.ts), from the rows of `source`. */
export const EXPOSURE_PART = {
  columns: COLUMNS,
  types: ['text', 'text', 'text', 'text', 'text', 'text', 'timestamptz', 'text'],
  insert: (source: string) => `INSERT INTO exposures (${COLUMNS}) SELECT * FROM ${source} ON CONFLICT (event_id, delivered_at) DO NOTHING`,
  /** Each column as an array literal (text-array.ts): pg would convert arrays element by element. */
  arrays: (events: readonly ExposureEvent[]): unknown[] =>
    [
      events.map((e) => e.eventId),
      events.map((e) => e.messageId),
      events.map((e) => e.userId),
      events.map((e) => e.category),
      events.map((e) => e.sessionId),
      events.map((e) => e.gatewayId),
      events.map((e) => e.deliveredAt),
      events.map((e) => e.via),
    ].map(textArrayLiteral),
};

/** Per group, what the key is; each a fixed SQL expression, never user input. */
const GROUP_KEYS: Record<StatsGroup, { key: string; order: string }> = {
  message: { key: 'message_id', order: 'exposures DESC, key ASC' },
  category: { key: 'category', order: 'exposures DESC, key ASC NULLS FIRST' },
  hour: {
    key: `to_char(date_trunc('hour', delivered_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24":00:00.000Z"')`,
    order: 'key ASC',
  },
};

export class ExposureStore {
  /** `reader` is the analyst API's pool; the writer's by default (tests, tools). */
  constructor(
    private readonly pool: Pool,
    private readonly reader: Pool = pool,
  ) {}

  /**
   * One statement for the whole batch (so one implicit transaction): the events go in as arrays,
   * which keeps the parameter count at 8 whatever the batch size. Rows whose (event_id,
   * delivered_at) exists already are skipped, which is what makes redelivery harmless: the primary
   * key of the partitioned table must include delivered_at, and a redelivered event carries the
   * same eventId and the same deliveredAt, so it lands in the same partition and conflicts.
   * A batch with other kinds goes in one statement with theirs (batch-statement.ts).
   */
  async insertBatch(events: readonly ExposureEvent[]): Promise<InsertResult> {
    if (events.length === 0) return { inserted: 0, duplicates: 0 };
    const result = await this.pool.query(EXPOSURE_PART.insert(unnestOf(EXPOSURE_PART.types, 1)), EXPOSURE_PART.arrays(events));
    const inserted = result.rowCount ?? 0;
    return { inserted, duplicates: events.length - inserted };
  }

  async insertDeadLetter(letter: DeadLetter): Promise<void> {
    await this.pool.query('INSERT INTO dead_letters (pubsub_message_id, data, reason) VALUES ($1, $2, $3)', [
      letter.pubsubMessageId,
      letter.data,
      letter.reason,
    ]);
  }

  /** A page in (delivered_at, event_id) order, continuing after `filters.after` (keyset pagination). */
  async query(filters: ExposureFilters): Promise<ExposurePage> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (filters.messageId !== undefined) where.push(`message_id = ${param(filters.messageId)}`);
    if (filters.userId !== undefined) where.push(`user_id = ${param(filters.userId)}`);
    if (filters.category !== undefined) where.push(`category = ${param(filters.category)}`);
    if (filters.from !== undefined) where.push(`delivered_at >= ${param(filters.from)}::timestamptz`);
    if (filters.to !== undefined) where.push(`delivered_at < ${param(filters.to)}::timestamptz`);
    if (filters.after) {
      where.push(`(delivered_at, event_id) > (${param(filters.after.deliveredAt)}::timestamptz, ${param(filters.after.eventId)})`);
    }
    const { rows } = await this.read<ExposureRow>(
      `SELECT ${COLUMNS} FROM exposures
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY delivered_at, event_id
       LIMIT ${param(filters.limit + 1)}`,
      params,
    );
    const hasMore = rows.length > filters.limit;
    return { items: rows.slice(0, filters.limit).map(toEvent), hasMore };
  }

  /** Exposures and distinct users per message, category or hour within [from, to). */
  async stats(query: StatsQuery): Promise<StatsItem[]> {
    const { key, order } = GROUP_KEYS[query.groupBy];
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.from !== undefined) {
      params.push(query.from);
      where.push(`delivered_at >= $${params.length}::timestamptz`);
    }
    if (query.to !== undefined) {
      params.push(query.to);
      where.push(`delivered_at < $${params.length}::timestamptz`);
    }
    params.push(query.limit);
    const { rows } = await this.read<{ key: string | null; exposures: string; users: string }>(
      `SELECT ${key} AS key, count(*) AS exposures, count(DISTINCT user_id) AS users
       FROM exposures
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       GROUP BY 1
       ORDER BY ${order}
       LIMIT $${params.length}`,
      params,
    );
    return rows.map((r) => ({ key: r.key, exposures: Number(r.exposures), users: Number(r.users) }));
  }

  /** An analyst's query, on the reader pool. */
  private async read<R extends QueryResultRow>(sql: string, params: unknown[]): Promise<QueryResult<R>> {
    try {
      return await this.reader.query<R>(sql, params);
    } catch (err) {
      throw toReadError(err);
    }
  }
}

function toEvent(row: ExposureRow): ExposureEvent {
  return {
    eventId: row.event_id,
    messageId: row.message_id,
    userId: row.user_id,
    category: row.category,
    sessionId: row.session_id,
    gatewayId: row.gateway_id,
    deliveredAt: row.delivered_at.toISOString(),
    via: row.via,
  };
}
