/** `herald presence`: which users are connected now, through ingest's GET /v1/presence. */
import { isUserId, Scope } from '@herald/types';
import type { Command } from '../command';
import { usageError } from '../cli-error';
import { apiToken } from '../dev-tokens';
import { callApi } from '../http';
import { ingestService } from '../services';
import { formatTable } from '../table';

/** What ingest answers for at most one request. */
const MAX_USERS = 1000;

interface Presence {
  userId: string;
  online: boolean;
  sessions: Array<{ sessionId: string; gatewayId: string; connectedAt: string }>;
}

export const presenceCommand: Command = {
  name: 'presence',
  summary: 'show whether users are connected now, with their sessions (through ingest)',
  help: `Usage: herald presence <userId>... [--json]

Prints one row per session of each user (a user without one shows as offline), in the order the
users were named. A gateway that died stops counting within one heartbeat period.

Options:
  --json             print the API's JSON ({"presence":[{"userId","online","sessions"}]})
  --token <jwt>      token with scope presence:read (default: HERALD_TOKEN, else minted with the dev secret)
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
    const userIds = args.positional(['userId'], { rest: true });
    if (userIds.length > MAX_USERS) throw usageError(`herald presence: at most ${MAX_USERS} users at a time, got ${userIds.length}`);
    for (const u of userIds) if (!isUserId(u)) throw usageError(`"${u}" is not a valid user id (1-128 of A-Z a-z 0-9 _ - . : @)`);
    const token = await apiToken({ token: args.string('token'), secret: args.string('secret') }, config, Scope.PRESENCE_READ);
    const query = new URLSearchParams({ userIds: userIds.join(',') });
    const res = await callApi<{ presence: Presence[] }>(ingestService(args, config), `v1/presence?${query}`, { token });
    if (args.flag('json')) {
      io.stdout.write(`${JSON.stringify(res.body)}\n`);
      return;
    }
    const rows = res.body.presence.flatMap((p) =>
      p.online ? p.sessions.map((s) => [p.userId, 'online', s.sessionId, s.gatewayId, s.connectedAt]) : [[p.userId, 'offline', null, null, null]],
    );
    io.stdout.write(formatTable(['user', 'presence', 'session', 'gateway', 'connected'], rows, { maxWidth: 130 }));
  },
};
