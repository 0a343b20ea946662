/**
 * Category messages, stored once: the body in `msg:{<id>}` (as any message), one entry in the
 * category's log `cat:{<name>}:log` (a stream: `i` id, `e` expiry), and one note on the category's
 * channel for every gateway subscribed to it; the gateways deliver to their sessions of the
 * category from memory. Nothing is written per member: a category message costs O(1) Redis
 * writes whatever the number of members.
 *
 * A member's progress is its read position in each category's log, `{u:<id>}:catpos` (category
 * -> entry id): everything up to it is the member's no more (acknowledged, or sent before the
 * member joined). A join sets it to the join's time, a leave removes it, acks move it forward
 * (advancePositions in category-positions.ts; never back). A connecting session reads each of
 * its categories' logs after the position (readCategoryLog) and merges them with its inbox
 * (apps/gateway drain.ts).
 *
 * Order: one category's entries are in the order of their ids, which is the order the log took
 * them; a category's notes reach every gateway in that order too (one channel). The order across
 * a user's streams (inbox, categories) is defined by the gateway (docs/PROTOCOL.md).
 */
import { keys } from './keys';
import type { HeraldRedis } from './client';

export interface CategoryAppendOptions {
  /** Most entries a category's log keeps (CATEGORY_LOG_CAP); the oldest go first. */
  cap: number;
  /** The longest message TTL, seconds (MESSAGE_MAX_TTL_SECONDS): older entries go, an idle log expires. */
  lifetimeSeconds: number;
  /** A send that may run twice (an Idempotency-Key): an id appended before is not appended again. */
  unique?: boolean;
  /** How long a `unique` append is remembered (IDEMPOTENCY_TTL_SECONDS). */
  rememberSeconds?: number;
  /**
   * The message's replace key: the category's last message with it (`cat:{<name>}:rk`) leaves the
   * log in the same step (XDEL), and the note names it (`k<entry>|x<id>|…`).
   */
  replaceKey?: string;
}

/**
 * What an append did: the new entry's id (null when `unique` found the id appended before), the
 * old entries trimmed, and the entries its replace key deleted (0 or 1).
 */
export interface CategoryAppend {
  entry: string | null;
  dropped: number;
  replaced: number;
}

/** The position before every entry: a member with no position reads the whole log. */
export const LOG_START = '0-0';

/**
 * Append a stored message to the category's log and notify the category's gateways, in one
 * atomic step. `note` is the body note or a reference (`liveNote` for one copy per gateway). The
 * write protocol (send-batch.ts, `publishToCategory`) stores the body first.
 */
export async function appendToCategory(
  redis: HeraldRedis,
  category: string,
  message: { id: string; expiresAt: number },
  note: string,
  opts: CategoryAppendOptions,
): Promise<CategoryAppend> {
  const [entry, dropped, replaced] = await redis.publishCategory(
    keys.categoryLog(category),
    keys.categoryChannel(category),
    keys.categoryIdempotent(category),
    keys.categoryReplaceKeys(category),
    keys.categoryTrimmed(category),
    message.id,
    message.expiresAt,
    note,
    opts.cap,
    opts.lifetimeSeconds,
    opts.unique ? '1' : '0',
    opts.rememberSeconds ?? 0,
    opts.replaceKey ?? '',
  );
  return { entry: entry === '' ? null : entry, dropped: Number(dropped), replaced: Number(replaced) };
}

/** One entry of a category's log. */
export interface LogEntry {
  /** The entry's id in the log (`<ms>-<seq>`): its position. */
  entry: string;
  /** The message id. */
  id: string;
  /** The message's expiry, epoch ms. */
  expiresAt: number;
}

/** The log's entries after `after` (exclusive), oldest first, at most `count`. */
export async function readCategoryLog(redis: HeraldRedis, category: string, after: string, count: number): Promise<LogEntry[]> {
  const raw = (await redis.xrange(keys.categoryLog(category), `(${after}`, '+', 'COUNT', count)) as [string, string[]][];
  const entries: LogEntry[] = [];
  for (const [entry, fields] of raw) {
    let id = '';
    let expiresAt = NaN;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === 'i') id = fields[i + 1];
      else if (fields[i] === 'e') expiresAt = Number(fields[i + 1]);
    }
    if (id !== '') entries.push({ entry, id, expiresAt });
  }
  return entries;
}

/** An entry the log's cap (`dropped`) or lifetime (`expired`) took out (publish-category-5.lua). */
export interface TrimmedEntry {
  entry: string;
  id: string;
  reason: 'dropped' | 'expired';
}

/**
 * The entries trimmed from the category's log after `after` (exclusive), oldest first: for a member
 * at position `after`, the ones it lost unread (at most the log's cap are remembered).
 */
export async function readTrimmed(redis: HeraldRedis, category: string, after: string): Promise<TrimmedEntry[]> {
  const ms = after.split('-', 1)[0];
  const raw = await redis.zrangebyscore(keys.categoryTrimmed(category), ms, '+inf');
  const entries: TrimmedEntry[] = [];
  for (const member of raw) {
    const [entry, id, reason] = member.split('|');
    if (id && compareEntryIds(entry, after) > 0) entries.push({ entry, id, reason: reason === 'd' ? 'dropped' : 'expired' });
  }
  return entries.sort((a, b) => compareEntryIds(a.entry, b.entry));
}

/**
 * Orders two log entry ids (`<ms>-<seq>`, decimal without leading zeros): negative when `a` comes
 * first. Compared in place (a session compares a few per delivery: no garbage): ids of the same
 * shape (as many digits on each side of the dash), the usual case, as text.
 */
export function compareEntryIds(a: string, b: string): number {
  if (a === b) return 0;
  // Two consts, not a destructured pair: that made an array and its iterator at every call
  // (docs/BENCHMARKS.md, "What a broadcast's scavenges kept").
  const ad = a.indexOf('-');
  const bd = b.indexOf('-');
  if (ad !== bd) return ad - bd;
  if (a.length === b.length) return a < b ? -1 : 1;
  // Same number of ms digits: the ms decide, else the longer sequence number is the larger.
  const ms = compareDigits(a, b, 0, ad);
  return ms !== 0 ? ms : a.length - b.length;
}

function compareDigits(a: string, b: string, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    const d = a.charCodeAt(i) - b.charCodeAt(i);
    if (d !== 0) return d;
  }
  return 0;
}
