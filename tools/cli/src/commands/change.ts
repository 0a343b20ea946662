/**
 * `herald update` and `herald recall`: change a message after it was sent, through ingest's
 * PATCH and DELETE /v1/messages/{id}. Only the producer that sent it may (or a token with
 * messages:admin); the dev token `herald send` mints is the same producer.
 */
import { isMessageId, Scope } from '@herald/types';
import type { Command } from '../command';
import { usageError } from '../cli-error';
import { apiToken } from '../dev-tokens';
import { callApi } from '../http';
import { ingestService } from '../services';

const COMMON_OPTIONS = `  --token <jwt>      token with scope messages:write (default: HERALD_TOKEN, else minted with the dev secret)
  --secret <secret>  dev secret to mint that token (default: HERALD_DEV_SECRET, then AUTH_JWT_SECRET)
  --ingest <url>     ingest's address (default: HERALD_INGEST_URL or http://127.0.0.1:8081)
  -h, --help         this help`;

const common = { token: { type: 'string' }, secret: { type: 'string' }, ingest: { type: 'string' } } as const;

function messageId(id: string): string {
  if (!isMessageId(id)) throw usageError(`"${id}" is not a message id`);
  return id;
}

interface Gateways {
  gateways: { notified: number; confirmed: number };
}

export const updateCommand: Command = {
  name: 'update',
  summary: 'replace the payload of a message already sent (sessions that got it see the update)',
  help: `Usage: herald update <messageId> <payload-json> [--ttl <seconds>]

Sends PATCH /v1/messages/{id}: recipients not yet reached get the new payload; sessions that
received the message get an "update" frame. Prints {"id","version","updatedAt","expiresAt","gateways"}.

Options:
  --ttl <seconds>    new lifetime, counted from the message's createdAt
${COMMON_OPTIONS}
`,
  options: { ...common, ttl: { type: 'string' } },
  async run({ args, config, io }) {
    const [id, text] = args.positional(['messageId', 'payload-json']);
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch (err) {
      throw usageError(`the payload is not JSON (${(err as Error).message}); to send a string, quote it: '"hello"'`);
    }
    const ttl = args.string('ttl');
    const ttlSeconds = ttl === undefined ? undefined : Number(ttl);
    if (ttlSeconds !== undefined && !(Number.isInteger(ttlSeconds) && ttlSeconds > 0)) throw usageError('--ttl takes a whole number of seconds');
    const token = await apiToken({ token: args.string('token'), secret: args.string('secret') }, config, Scope.MESSAGES_WRITE);
    const res = await callApi<Gateways>(ingestService(args, config), `v1/messages/${messageId(id)}`, {
      method: 'PATCH',
      token,
      body: { payload, ...(ttlSeconds === undefined ? {} : { ttlSeconds }) },
    });
    io.stdout.write(`${JSON.stringify(res.body)}\n`);
  },
};

export const recallCommand: Command = {
  name: 'recall',
  summary: 'recall a message: gone from every offline list; sessions that got it are told to drop it',
  help: `Usage: herald recall <messageId>

Sends DELETE /v1/messages/{id}: the message leaves every offline list and category log, is never
delivered again, and sessions that received it get a "delete" frame; a scheduled one is cancelled.
Prints {"id","state","removed","gateways"}.

Options:
${COMMON_OPTIONS}
`,
  options: common,
  async run({ args, config, io }) {
    const [id] = args.positional(['messageId']);
    const token = await apiToken({ token: args.string('token'), secret: args.string('secret') }, config, Scope.MESSAGES_WRITE);
    const res = await callApi<Gateways>(ingestService(args, config), `v1/messages/${messageId(id)}`, { method: 'DELETE', token });
    io.stdout.write(`${JSON.stringify(res.body)}\n`);
  },
};
