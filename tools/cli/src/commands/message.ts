/** `herald message <id>`: what became of a message (scheduled, sent, recalled) through ingest's GET /v1/messages/{id}. */
import { isMessageId, Scope } from '@herald/types';
import type { Command } from '../command';
import { usageError } from '../cli-error';
import { apiToken } from '../dev-tokens';
import { callApi } from '../http';
import { ingestService } from '../services';

/** Message ids as ingest's route takes them. */
/** GET /v1/messages/{id}'s answer (docs/PROTOCOL.md). */
interface MessageStatus {
  id: string;
  state: string;
  category: string | null;
  recipients: number;
  createdAt: string | null;
  expiresAt: string | null;
  scheduledFor: string | null;
  updatedAt: string | null;
  recalledAt: string | null;
  version: number;
}

export const messageCommand: Command = {
  name: 'message',
  summary: 'show what became of a message: scheduled, sent or recalled, and when (through ingest)',
  help: `Usage: herald message <id> [--json]

Prints the message's state (scheduled, sent, recalled), its target and its times, one
"field value" line each; "-" for a time that does not apply (yet).
  ID=$(herald send --user alice --at 2026-12-24T18:00:00Z '"merry"'); herald message "$ID"

Only the producer that sent it, or a token with scope messages:admin, may read a message; the
token minted with the dev secret has both messages:write and messages:admin.

Options:
  --json             print the API's JSON
  --token <jwt>      token with scope messages:write (default: HERALD_TOKEN, else minted with the dev secret)
  --secret <secret>  dev secret to mint that token (default: HERALD_DEV_SECRET, then AUTH_JWT_SECRET)
  --ingest <url>     ingest's address (default: HERALD_INGEST_URL or http://127.0.0.1:8081)
  -h, --help         this help
`,
  options: {
    json: { type: 'boolean' },
    token: { type: 'string' },
    secret: { type: 'string' },
    ingest: { type: 'string' },
  },
  async run({ args, config, io }) {
    const [id] = args.positional(['id']);
    if (!isMessageId(id)) throw usageError(`"${id}" is not a message id (1-64 of A-Z a-z 0-9 -)`);
    const token = await apiToken({ token: args.string('token'), secret: args.string('secret') }, config, `${Scope.MESSAGES_WRITE} ${Scope.MESSAGES_ADMIN}`);
    const res = await callApi<MessageStatus>(ingestService(args, config), `v1/messages/${id}`, { token });
    if (args.flag('json')) {
      io.stdout.write(`${JSON.stringify(res.body)}\n`);
      return;
    }
    const m = res.body;
    const lines: Array<[string, string | number | null]> = [
      ['id', m.id],
      ['state', m.state],
      ['to', m.category === null ? `${m.recipients} user(s)` : `category ${m.category}`],
      ['scheduledFor', m.scheduledFor],
      ['createdAt', m.createdAt],
      ['expiresAt', m.expiresAt],
      ['updatedAt', m.updatedAt],
      ['recalledAt', m.recalledAt],
      ['version', m.version],
    ];
    io.stdout.write(lines.map(([field, value]) => `${field.padEnd(13)}${value ?? '-'}\n`).join(''));
  },
};
