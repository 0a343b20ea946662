/**
 * `herald webhooks create|list|delete` (ingest's /v1/webhooks, scope webhooks:write) and
 * `herald webhooks listen` (a local receiver that verifies signatures and prints events).
 */
import { isCategory, isWebhookEventKind, Scope, WEBHOOK_EVENT_KINDS } from '@herald/types';
import type { Args, Command, CommandContext } from '../command';
import { failure, usageError } from '../cli-error';
import { apiToken } from '../dev-tokens';
import { callApi } from '../http';
import { ingestService } from '../services';
import { formatTable } from '../table';
import { listenForWebhooks } from '../webhook-listener';

const DEFAULT_LISTEN_PORT = 9000;

interface Endpoint {
  id: string;
  url: string;
  kinds: string[];
  category: string | null;
  state: string;
  disabledReason: string | null;
  lastFailure: string | null;
}

export const webhooksCommand: Command = {
  name: 'webhooks',
  summary: 'register, list and delete webhook endpoints (through ingest), or receive webhooks locally',
  help: `Usage: herald webhooks create <url> --kind <kind>... [--category <c>] [--json]
       herald webhooks list [--json]
       herald webhooks delete <id>
       herald webhooks listen --secret <whsec_…> [--port ${DEFAULT_LISTEN_PORT}] [--host 127.0.0.1] [--count <n>]

create registers an endpoint for the events of the whole deployment of the given kinds (and
category) and prints {"id","secret"}: the secret is shown only then. list shows your endpoints
(the token's subject) with their state; delete removes one.
listen serves http://<host>:<port>/ and verifies each request's Standard Webhooks signature with
the secret: a valid batch prints one JSON line per event (a repeated webhook-id is not printed
again), anything else is answered 401 and reported on stderr. Runs until Ctrl-C or --count events.
Against npm run dev, http://127.0.0.1:${DEFAULT_LISTEN_PORT} is allow-listed (WEBHOOK_ALLOWED_HOSTS).

Kinds: ${WEBHOOK_EVENT_KINDS.join(', ')}

Options:
  --kind <kind>        create: an event kind to receive (repeat it, or comma-separate)
  --category <c>       create: only events of this category
  --json               create, list: print the API's JSON
  --secret <whsec_…>   listen: the endpoint's secret (default: HERALD_WEBHOOK_SECRET)
  --port <n>           listen: the port (default ${DEFAULT_LISTEN_PORT}; 0 picks a free one)
  --host <address>     listen: the address to listen on (default 127.0.0.1)
  --count <n>          listen: exit (0) after n events
  --token <jwt>        token with scope webhooks:write (default: HERALD_TOKEN, else minted with the dev secret)
  --dev-secret <s>     dev secret to mint that token (default: HERALD_DEV_SECRET, then AUTH_JWT_SECRET)
  --ingest <url>       ingest's address (default: HERALD_INGEST_URL or http://127.0.0.1:8081)
  -h, --help           this help
`,
  options: {
    kind: { type: 'string', multiple: true },
    category: { type: 'string' },
    json: { type: 'boolean' },
    secret: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    count: { type: 'string' },
    token: { type: 'string' },
    'dev-secret': { type: 'string' },
    ingest: { type: 'string' },
  },
  async run(ctx) {
    const [action] = ctx.args.positional(['create|list|delete|listen'], { rest: true });
    if (action === 'listen') return listen(ctx);
    if (action === 'create') return create(ctx);
    if (action === 'list') return list(ctx);
    if (action === 'delete') return remove(ctx);
    throw usageError(`herald webhooks: "${action}" is none of create, list, delete, listen`);
  },
};

function token(args: Args, config: CommandContext['config']): Promise<string> {
  return apiToken({ token: args.string('token'), secret: args.string('dev-secret') }, config, Scope.WEBHOOKS_WRITE);
}

async function create({ args, config, io }: CommandContext): Promise<void> {
  const [, url] = args.positional(['create', 'url']);
  const kinds = [...new Set(args.strings('kind').flatMap((k) => k.split(',')).map((k) => k.trim()).filter(Boolean))];
  if (kinds.length === 0) throw usageError(`herald webhooks create: name at least one --kind (${WEBHOOK_EVENT_KINDS.join(', ')})`);
  for (const k of kinds) if (!isWebhookEventKind(k)) throw usageError(`"${k}" is not an event kind; the kinds are ${WEBHOOK_EVENT_KINDS.join(', ')}`);
  const category = args.string('category');
  if (category !== undefined && !isCategory(category)) throw usageError(`"${category}" is not a valid category (1-64 of A-Z a-z 0-9 _ - . :)`);
  const res = await callApi<{ id: string; secret: string }>(ingestService(args, config), 'v1/webhooks', {
    method: 'POST',
    token: await token(args, config),
    body: { url, kinds, ...(category === undefined ? {} : { category }) },
  });
  io.stdout.write(`${JSON.stringify(res.body)}\n`);
  if (!args.flag('json')) io.stderr.write(`receive them here: herald webhooks listen --secret ${res.body.secret} (shown only now)\n`);
}

async function list({ args, config, io }: CommandContext): Promise<void> {
  args.positional(['list']);
  const res = await callApi<{ webhooks: Endpoint[] }>(ingestService(args, config), 'v1/webhooks', { token: await token(args, config) });
  if (args.flag('json')) {
    io.stdout.write(`${JSON.stringify(res.body)}\n`);
    return;
  }
  const rows = res.body.webhooks.map((w) => [w.id, w.state, w.kinds.join(','), w.category, w.url, w.disabledReason ?? w.lastFailure]);
  io.stdout.write(formatTable(['id', 'state', 'kinds', 'category', 'url', 'last failure'], rows, { maxWidth: 160 }));
}

async function remove({ args, config, io }: CommandContext): Promise<void> {
  const [, id] = args.positional(['delete', 'id']);
  await callApi(ingestService(args, config), `v1/webhooks/${encodeURIComponent(id)}`, { method: 'DELETE', token: await token(args, config) });
  io.stdout.write(`${id}\n`);
}

async function listen({ args, config, io }: CommandContext): Promise<void> {
  args.positional(['listen']);
  const secret = args.string('secret') ?? config.HERALD_WEBHOOK_SECRET;
  if (!secret) throw usageError('herald webhooks listen: pass the endpoint\'s --secret whsec_… (herald webhooks create printed it), or set HERALD_WEBHOOK_SECRET');
  if (!/^whsec_[A-Za-z0-9+/]+=*$/.test(secret)) throw usageError('herald webhooks listen: --secret must look like whsec_<base64>, as herald webhooks create prints it');
  const port = args.int('port', 0, 65535) ?? DEFAULT_LISTEN_PORT;
  const count = args.int('count', 1, Number.MAX_SAFE_INTEGER);
  const host = args.string('host') ?? '127.0.0.1';
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  let listener;
  try {
    listener = await listenForWebhooks({
      host,
      port,
      secret,
      print: (line) => io.stdout.write(`${line}\n`),
      say: (line) => io.stderr.write(`${line}\n`),
      onEvent: (total) => {
        if (count !== undefined && total >= count) stop();
      },
    });
  } catch (err) {
    throw failure(`cannot listen on ${host}:${port}: ${(err as Error).message}`);
  }
  io.stderr.write(`listening on ${listener.url} (signatures checked with the given secret); Ctrl-C stops\n`);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await stopped;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await listener.close();
  }
}
