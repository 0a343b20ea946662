/**
 * The analysts' funnel and lifecycle counts, read from `messages`, `exposures`, `engagements`,
 * `losses` and `webpush_outcomes` on the reader pool (QUERY_TIMEOUT / ANALYTICS_BUSY as for the other reads).
 *
 * What a window means: the messages whose window_at is in [from, to) — when they were sent (their
 * createdAt), else when they are scheduled for, else when the consumer first heard of them — and
 * everything that happened to those messages, whenever it happened. A message the consumer has no
 * lifecycle event of (sent before the funnel existed) is in no window.
 */
import type { Pool, QueryResultRow } from 'pg';
import { toReadError } from './read-errors';

export type FunnelGroup = 'category' | 'day';

export interface FunnelQuery {
  messageId?: string;
  category?: string;
  /** Inclusive lower bound on the messages' window_at. */
  from?: string;
  /** Exclusive upper bound. */
  to?: string;
  groupBy?: FunnelGroup;
}

export interface Percentiles {
  /** Seconds, from the message's createdAt; null without data. */
  p50: number | null;
  p90: number | null;
}

export interface Funnel {
  messages: number;
  /** Recipients of the messages (a category message: its members when sent). */
  sent: number;
  /** Distinct users with an exposure. */
  delivered: number;
  opened: number;
  clicked: number;
  dismissed: number;
  /** Users who lost the message unread (a user delivered on any device is counted as delivered only). */
  expired: number;
  dropped: number;
  /** sent − delivered − expired − dropped, never negative. */
  pending: number;
  /** Users a Web Push reached (a push service took it) while they had no live session (issue 19); beside the funnel's steps, not one of them. */
  nudged: number;
  timeToDelivery: Percentiles;
  timeToOpen: Percentiles;
}

export interface FunnelItem extends Funnel {
  /** The category (null: messages to users directly) or the UTC day `YYYY-MM-DD`. */
  key: string | null;
}

export interface LifecycleQuery {
  category?: string;
  from?: string;
  to?: string;
}

export interface LifecycleCounts {
  /** Messages in the window, whatever their state. */
  messages: number;
  /** Of them, sent (immediately or when their time came). */
  sent: number;
  /** Asked for a later time (sendAt), sent since or not. */
  scheduled: number;
  /** Changed after send at least once (PATCH). */
  updated: number;
  recalled: number;
  /** Pending copies of older messages the window's messages replaced (replace keys). */
  replaced: number;
  /** Messages that replaced at least one pending copy. */
  replacing: number;
  /** Recipients of the sent ones. */
  recipients: number;
}

const KEYS: Record<FunnelGroup | 'total', string> = {
  total: 'NULL::text',
  category: 'category',
  day: `to_char(window_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
};

/** Exposures stamped by a gateway's clock a little behind ingest's still count (only used to skip older partitions). */
const CLOCK_SLACK = "interval '1 hour'";

const seconds = (from: string, to: string) => `extract(epoch FROM ${to} - ${from})`;
const percentile = (p: number, expr: string, filter = '') => `percentile_cont(${p}) WITHIN GROUP (ORDER BY ${expr})${filter}`;

interface FunnelRow {
  key: string | null;
  messages: number;
  sent: string;
  delivered: string;
  opened: string;
  clicked: string;
  dismissed: string;
  expired: string;
  dropped: string;
  nudged: string;
  d50: number | null;
  d90: number | null;
  o50: number | null;
  o90: number | null;
}

export class FunnelStore {
  constructor(private readonly reader: Pool) {}

  /** The totals over the query's messages, and per group when asked. */
  async funnel(query: FunnelQuery): Promise<{ totals: Funnel; items?: FunnelItem[] }> {
    const [totals] = await this.funnelRows(query, 'total');
    const empty = { key: null, messages: 0, sent: '0', delivered: '0', opened: '0', clicked: '0', dismissed: '0', expired: '0', dropped: '0', nudged: '0', d50: null, d90: null, o50: null, o90: null };
    const result: { totals: Funnel; items?: FunnelItem[] } = { totals: toFunnel(totals ?? empty) };
    if (query.groupBy) result.items = (await this.funnelRows(query, query.groupBy)).map((row) => ({ key: row.key, ...toFunnel(row) }));
    return result;
  }

  async lifecycle(query: LifecycleQuery): Promise<LifecycleCounts> {
    const { where, params } = messageFilters(query);
    const { rows } = await this.read<Record<keyof LifecycleCounts, string>>(
      `SELECT count(*) AS messages, count(created_at) AS sent,
              count(*) FILTER (WHERE scheduled_at IS NOT NULL OR scheduled_for IS NOT NULL) AS scheduled,
              count(*) FILTER (WHERE version > 1) AS updated, count(recalled_at) AS recalled,
              coalesce(sum(replaced), 0) AS replaced, count(*) FILTER (WHERE replaced > 0) AS replacing,
              coalesce(sum(recipients) FILTER (WHERE created_at IS NOT NULL), 0) AS recipients
       FROM messages ${where}`,
      params,
    );
    const row = rows[0];
    return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)])) as unknown as LifecycleCounts;
  }

  private async funnelRows(query: FunnelQuery, group: FunnelGroup | 'total'): Promise<FunnelRow[]> {
    const { where, params } = messageFilters(query);
    // `from` is always $1 (messageFilters takes it first).
    const since = query.from === undefined ? '' : `AND x.delivered_at >= $1::timestamptz - ${CLOCK_SLACK}`;
    const { rows } = await this.read<FunnelRow>(
      `WITH m AS (
         SELECT id, ${KEYS[group]} AS key, created_at, coalesce(recipients, 0) AS recipients FROM messages ${where}
       ), d AS (
         SELECT m.key, x.message_id, x.user_id, min(x.delivered_at) AS first_at, m.created_at
         FROM m JOIN exposures x ON x.message_id = m.id ${since}
         GROUP BY m.key, m.created_at, x.message_id, x.user_id
       ), ms AS (
         SELECT key, count(*)::int AS messages, sum(recipients) AS sent FROM m GROUP BY key
       ), ds AS (
         SELECT key, count(*) AS delivered, ${percentile(0.5, seconds('created_at', 'first_at'))} AS d50,
                ${percentile(0.9, seconds('created_at', 'first_at'))} AS d90
         FROM d GROUP BY key
       ), gs AS (
         SELECT m.key, count(*) FILTER (WHERE e.kind = 'opened') AS opened, count(*) FILTER (WHERE e.kind = 'clicked') AS clicked,
                count(*) FILTER (WHERE e.kind = 'dismissed') AS dismissed,
                ${percentile(0.5, seconds('m.created_at', 'e.at'), " FILTER (WHERE e.kind = 'opened')")} AS o50,
                ${percentile(0.9, seconds('m.created_at', 'e.at'), " FILTER (WHERE e.kind = 'opened')")} AS o90
         FROM m JOIN engagements e ON e.message_id = m.id GROUP BY m.key
       ), ls AS (
         SELECT m.key, count(*) FILTER (WHERE l.kind = 'expired') AS expired, count(*) FILTER (WHERE l.kind = 'dropped') AS dropped
         FROM m JOIN losses l ON l.message_id = m.id
         WHERE NOT EXISTS (SELECT 1 FROM d WHERE d.message_id = l.message_id AND d.user_id = l.user_id)
         GROUP BY m.key
       ), ws AS (
         SELECT m.key, count(DISTINCT w.user_id) AS nudged
         FROM m JOIN webpush_outcomes w ON w.message_id = m.id AND w.status = 'sent' GROUP BY m.key
       )
       SELECT ms.key, ms.messages, ms.sent, coalesce(ds.delivered, 0) AS delivered, coalesce(gs.opened, 0) AS opened,
              coalesce(gs.clicked, 0) AS clicked, coalesce(gs.dismissed, 0) AS dismissed, coalesce(ls.expired, 0) AS expired,
              coalesce(ls.dropped, 0) AS dropped, coalesce(ws.nudged, 0) AS nudged, ds.d50, ds.d90, gs.o50, gs.o90
       FROM ms
       LEFT JOIN ds ON ds.key IS NOT DISTINCT FROM ms.key
       LEFT JOIN gs ON gs.key IS NOT DISTINCT FROM ms.key
       LEFT JOIN ls ON ls.key IS NOT DISTINCT FROM ms.key
       LEFT JOIN ws ON ws.key IS NOT DISTINCT FROM ms.key
       ORDER BY ms.key ASC NULLS FIRST`,
      params,
    );
    return rows;
  }

  private async read<R extends QueryResultRow>(sql: string, params: unknown[]): Promise<{ rows: R[] }> {
    try {
      return await this.reader.query<R>(sql, params);
    } catch (err) {
      throw toReadError(err);
    }
  }
}

function messageFilters(query: FunnelQuery | LifecycleQuery): { where: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (clause: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(clause(`$${params.length}`));
  };
  if (query.from !== undefined) add((p) => `window_at >= ${p}::timestamptz`, query.from);
  if (query.to !== undefined) add((p) => `window_at < ${p}::timestamptz`, query.to);
  if ('messageId' in query && query.messageId !== undefined) add((p) => `id = ${p}`, query.messageId);
  if (query.category !== undefined) add((p) => `category = ${p}`, query.category);
  return { where: where.length ? `WHERE ${where.join(' AND ')}` : '', params };
}

function toFunnel(row: FunnelRow): Funnel {
  const n = (v: string | number) => Number(v);
  const [sent, delivered, expired, dropped] = [n(row.sent), n(row.delivered), n(row.expired), n(row.dropped)];
  const round = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 1000);
  return {
    messages: n(row.messages),
    sent,
    delivered,
    opened: n(row.opened),
    clicked: n(row.clicked),
    dismissed: n(row.dismissed),
    expired,
    dropped,
    pending: Math.max(0, sent - delivered - expired - dropped),
    nudged: n(row.nudged),
    timeToDelivery: { p50: round(row.d50), p90: round(row.d90) },
    timeToOpen: { p50: round(row.o50), p90: round(row.o90) },
  };
}
