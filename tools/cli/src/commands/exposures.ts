/** `herald exposures [stats]`: the exposure-consumer's query and stats APIs, printed as tables. */
import { isCategory, isUserId, Scope, type ExposureEvent } from '@herald/types';
import type { Args, Command } from '../command';
import { usageError } from '../cli-error';
import { apiToken } from '../dev-tokens';
import { callApi, type Service } from '../http';
import { consumerService } from '../services';
import { formatTable } from '../table';

interface Page {
  items: ExposureEvent[];
  nextCursor: string | null;
}

interface Stats {
  groupBy: string;
  items: { key: string | null; exposures: number; users: number }[];
}

const GROUPS = ['message', 'category', 'hour'];
/** Pages `--all` follows at most (100 000 events at the largest page size). */
const MAX_PAGES = 100;

function isoTime(args: Args, name: string): string | undefined {
  const raw = args.string(name);
  if (raw === undefined) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(raw) || Number.isNaN(Date.parse(raw))) {
    throw usageError(`--${name} must be an ISO-8601 date or time with a zone, e.g. 2026-11-26 or 2026-11-26T08:00:00Z; got "${raw}"`);
  }
  // The API takes date-times; a bare date means its midnight UTC.
  return raw.length === 10 ? `${raw}T00:00:00Z` : raw;
}

function windowQuery(args: Args): URLSearchParams {
  const q = new URLSearchParams();
  const from = isoTime(args, 'from');
  const to = isoTime(args, 'to');
  if (from) q.set('from', from);
  if (to) q.set('to', to);
  return q;
}

async function query(args: Args, service: Service, token: string, out: NodeJS.WritableStream): Promise<void> {
  const q = windowQuery(args);
  const messageId = args.string('message');
  const userId = args.string('user');
  const category = args.string('category');
  if (userId !== undefined && !isUserId(userId)) throw usageError(`"${userId}" is not a valid user id`);
  if (category !== undefined && !isCategory(category)) throw usageError(`"${category}" is not a valid category`);
  if (messageId) q.set('messageId', messageId);
  if (userId) q.set('userId', userId);
  if (category) q.set('category', category);
  const limit = args.int('limit', 1, 1000);
  if (limit) q.set('limit', String(limit));
  let cursor = args.string('cursor');
  const items: ExposureEvent[] = [];
  let next: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    if (cursor) q.set('cursor', cursor);
    const res = await callApi<Page>(service, `v1/exposures?${q}`, { token });
    items.push(...res.body.items);
    next = res.body.nextCursor;
    if (!args.flag('all') || !next) break;
    cursor = next;
  }
  if (args.flag('json')) {
    for (const item of items) out.write(`${JSON.stringify(item)}\n`);
    return;
  }
  out.write(
    formatTable(
      ['delivered', 'via', 'user', 'message', 'category', 'session', 'gateway'],
      items.map((e) => [e.deliveredAt, e.via, e.userId, e.messageId, e.category, e.sessionId, e.gatewayId]),
      { maxWidth: 40 },
    ),
  );
  out.write(`${items.length} exposure${items.length === 1 ? '' : 's'}${next ? `; more with --cursor ${next} (or --all)` : ''}\n`);
}

async function stats(args: Args, service: Service, token: string, out: NodeJS.WritableStream): Promise<void> {
  const groupBy = args.string('group-by');
  if (groupBy === undefined || !GROUPS.includes(groupBy)) {
    throw usageError(`herald exposures stats needs --group-by ${GROUPS.join('|')}${groupBy ? `, got "${groupBy}"` : ''}`);
  }
  const q = windowQuery(args);
  q.set('groupBy', groupBy);
  const limit = args.int('limit', 1, 10_000);
  if (limit) q.set('limit', String(limit));
  const res = await callApi<Stats>(service, `v1/exposures/stats?${q}`, { token });
  if (args.flag('json')) {
    out.write(`${JSON.stringify(res.body)}\n`);
    return;
  }
  const label = groupBy === 'category' ? (k: string | null) => k ?? '(direct)' : (k: string | null) => k;
  out.write(
    formatTable(
      [groupBy, 'exposures', 'users'],
      res.body.items.map((i) => [label(i.key), i.exposures, i.users]),
      { maxWidth: 60, alignRight: [1, 2] },
    ),
  );
}

export const exposuresCommand: Command = {
  name: 'exposures',
  summary: 'query exposures, or print stats per message, category or hour, as tables',
  help: `Usage: herald exposures [filters] [--limit <n>] [--cursor <c> | --all] [--json]
       herald exposures stats --group-by message|category|hour [--from <t>] [--to <t>] [--limit <n>] [--json]

Reads the exposure-consumer's API (GET /v1/exposures and /v1/exposures/stats) and prints a table,
oldest first; stats come most exposed first (hours in time order).

Filters:
  --message <id>     one message
  --user <id>        one user
  --category <name>  one category
  --from <time>      delivered at or after (ISO-8601: 2026-11-26 or 2026-11-26T08:00:00Z)
  --to <time>        delivered before
Options:
  --limit <n>        page size (1-1000, API default 100); stats: groups (1-10000)
  --cursor <c>       the page after the one that printed this cursor
  --all              follow the cursor through every page (at most ${MAX_PAGES})
  --group-by <g>     stats: message, category or hour
  --json             JSON (one event per line; stats: the API's answer)
  --token <jwt>      token with scope exposures:read (default: HERALD_TOKEN, else minted with the dev secret)
  --secret <secret>  dev secret to mint that token (default: HERALD_DEV_SECRET, then AUTH_JWT_SECRET)
  --consumer <url>   the exposure-consumer (default: HERALD_CONSUMER_URL or http://127.0.0.1:8082)
  -h, --help         this help
`,
  options: {
    message: { type: 'string' },
    user: { type: 'string' },
    category: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    limit: { type: 'string' },
    cursor: { type: 'string' },
    all: { type: 'boolean' },
    'group-by': { type: 'string' },
    json: { type: 'boolean' },
    token: { type: 'string' },
    secret: { type: 'string' },
    consumer: { type: 'string' },
  },
  async run({ args, config, io }) {
    const [sub, extra] = args.positionals;
    if (extra !== undefined || (sub !== undefined && sub !== 'stats')) {
      throw usageError(`herald exposures: unexpected argument "${extra ?? sub}" (the only subcommand is stats)`);
    }
    const service = consumerService(args, config);
    if (sub === 'stats') {
      for (const f of ['message', 'user', 'category', 'cursor', 'all']) {
        if (args.string(f) !== undefined || args.flag(f)) throw usageError(`herald exposures stats does not take --${f}`);
      }
    } else if (args.string('group-by') !== undefined) {
      throw usageError('--group-by belongs to herald exposures stats');
    }
    const token = await apiToken({ token: args.string('token'), secret: args.string('secret') }, config, Scope.EXPOSURES_READ);
    if (sub === 'stats') await stats(args, service, token, io.stdout);
    else await query(args, service, token, io.stdout);
  },
};
