/**
 * `herald send`: a message to users or to a category, through ingest's POST /v1/messages; or,
 * with `--file` and no recipients, many messages from JSON lines (send-lines.ts).
 */
import { readFile } from 'node:fs/promises';
import { isCategory, isReplaceKey, isUserId, parseRfc3339, Scope } from '@herald/types';
import type { Command, Io } from '../command';
import { failure, usageError } from '../cli-error';
import { apiToken } from '../dev-tokens';
import { callApi } from '../http';
import { ingestService } from '../services';
import { sendLines } from './send-lines';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** The text of --file: the file, or stdin for "-". */
async function fileText(file: string, io: Io): Promise<string> {
  if (file === '-') return readAll(io.stdin);
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw usageError(`cannot read --file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The payload text: the argument, a file, or stdin (with `--file -`, or when stdin is piped). */
async function payloadText(arg: string | undefined, file: string | undefined, io: Io): Promise<{ text: string; from: string }> {
  if (arg !== undefined && file !== undefined) throw usageError('give the payload as an argument or with --file, not both');
  if (arg !== undefined) return { text: arg, from: 'the payload argument' };
  if (file !== undefined) return { text: await fileText(file, io), from: file === '-' ? 'stdin' : file };
  if (!io.stdin.isTTY) return { text: await readAll(io.stdin), from: 'stdin' };
  throw usageError('no payload: give it as an argument, with --file <path>, or on stdin (see herald send --help)');
}

export const sendCommand: Command = {
  name: 'send',
  summary: 'send a message to users or a category (payload from an argument, a file or stdin)',
  help: `Usage: herald send (--user <id>... | --category <name>) [<payload-json>] [options]
       herald send --file <messages.jsonl | ->

Sends one message through ingest (POST /v1/messages) and prints its id on stdout.
  herald send --user alice '{"text":"hello"}'
  herald send --user alice --user bob --file payload.json
  echo '{"text":"hi"}' | herald send --category news
The payload is JSON; to send a plain string, quote it: herald send --user alice '"hello"'.
With --at, the message is held until then (herald message <id> shows its state):
  herald send --user alice --at 2026-12-24T18:00:00Z '{"text":"merry"}'

Bulk mode, --file without --user or --category: one message body per line (JSON lines, as
POST /v1/messages takes it, plus an optional "idempotencyKey"), sent in batches of up to 500
through POST /v1/messages/batch. Each line's result is printed as a JSON line,
{"line":n,"id":"…"} or {"line":n,"error":{"code":"…","message":"…"}}, and a summary on stderr;
the exit code is 1 when any line failed.
  printf '%s\\n' '{"userIds":["alice"],"payload":1}' '{"category":"news","payload":2}' | herald send --file -

Options:
  --user <id>                  a recipient (repeat it, or separate ids with commas)
  --category <name>            every member of the category instead
  --file <path>                read the payload from a file ("-" for stdin); without recipients, JSON lines
  --ttl <seconds>              how long the message may wait to be delivered (ingest's default: 7 days),
                               counted from when it is sent
  --at <date-time>             send it at this RFC 3339 time (e.g. 2026-12-24T18:00:00Z, or +01:00), at most
                               30 days ahead; prints "scheduled for …" on stderr
  --idempotency-key <key>      a repeat with the same key within 24 h sends nothing new
  --replace-key <key>          take the place of the last message sent with this key to the same
                               recipients (1-64 of A-Z a-z 0-9 _ - . :)
  --token <jwt>                producer token (default: HERALD_TOKEN, else one minted with the dev secret)
  --secret <secret>            dev secret to mint that token (default: HERALD_DEV_SECRET, then AUTH_JWT_SECRET)
  --ingest <url>               ingest's address (default: HERALD_INGEST_URL or http://127.0.0.1:8081)
  -h, --help                   this help
`,
  options: {
    user: { type: 'string', multiple: true },
    category: { type: 'string' },
    file: { type: 'string' },
    ttl: { type: 'string' },
    at: { type: 'string' },
    'idempotency-key': { type: 'string' },
    'replace-key': { type: 'string' },
    token: { type: 'string' },
    secret: { type: 'string' },
    ingest: { type: 'string' },
  },
  async run({ args, config, io }) {
    const [payloadArg] = args.positionals;
    if (args.positionals.length > 1) throw usageError(`unexpected argument "${args.positionals[1]}" (quote the JSON payload)`);
    const users = args.strings('user').flatMap((u) => u.split(',')).filter(Boolean);
    const category = args.string('category');
    const file = args.string('file');
    if (file !== undefined && users.length === 0 && category === undefined) {
      if (payloadArg !== undefined) throw usageError('in bulk mode (--file without recipients) every line is a message; no payload argument');
      for (const flag of ['ttl', 'idempotency-key', 'replace-key', 'at']) {
        if (args.string(flag) !== undefined) throw usageError(`--${flag} is for one message; in bulk mode put it in each line (ttlSeconds, idempotencyKey, replaceKey)`);
      }
      const token = await apiToken({ token: args.string('token'), secret: args.string('secret') }, config, Scope.MESSAGES_WRITE);
      return sendLines(await fileText(file, io), file === '-' ? 'stdin' : file, ingestService(args, config), token, io);
    }
    if ((users.length > 0) === (category !== undefined)) {
      throw usageError('give recipients with --user <id>... or --category <name> (one of them), or JSON lines with --file alone');
    }
    for (const user of users) if (!isUserId(user)) throw usageError(`"${user}" is not a valid user id (1-128 of A-Z a-z 0-9 _ - . : @)`);
    if (category !== undefined && !isCategory(category)) {
      throw usageError(`"${category}" is not a valid category (1-64 of A-Z a-z 0-9 _ - . :)`);
    }
    const replaceKey = args.string('replace-key');
    if (replaceKey !== undefined && !isReplaceKey(replaceKey)) {
      throw usageError(`"${replaceKey}" is not a valid replace key (1-64 of A-Z a-z 0-9 _ - . :)`);
    }
    const ttlSeconds = args.int('ttl', 1, Number.MAX_SAFE_INTEGER);
    const sendAt = args.string('at');
    if (sendAt !== undefined && parseRfc3339(sendAt) === null) {
      throw usageError(`--at "${sendAt}" is not an RFC 3339 date-time with a time zone, e.g. 2026-12-24T18:00:00Z`);
    }
    const { text, from } = await payloadText(payloadArg, file, io);
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch (err) {
      throw usageError(`the payload from ${from} is not JSON (${(err as Error).message}); to send a string, quote it: '"hello"'`);
    }
    const token = await apiToken({ token: args.string('token'), secret: args.string('secret') }, config, Scope.MESSAGES_WRITE);
    const key = args.string('idempotency-key');
    const res = await callApi<{ id?: string; scheduledFor?: string }>(ingestService(args, config), 'v1/messages', {
      method: 'POST',
      token,
      body: {
        ...(category !== undefined ? { category } : { userIds: users }),
        payload,
        ...(ttlSeconds ? { ttlSeconds } : {}),
        ...(replaceKey !== undefined ? { replaceKey } : {}),
        ...(sendAt !== undefined ? { sendAt } : {}),
      },
      headers: key ? { 'idempotency-key': key } : {},
    });
    if (!res.body?.id) throw failure(`ingest answered ${res.status} without a message id`);
    if (res.headers.get('idempotent-replayed') === 'true') {
      io.stderr.write('replayed: a request with this Idempotency-Key already sent this message; nothing new was sent\n');
    }
    if (res.body.scheduledFor) io.stderr.write(`scheduled for ${res.body.scheduledFor}\n`);
    io.stdout.write(`${res.body.id}\n`);
  },
};
