/** `herald inbox`: a user's offline list in Redis, with each message's body (or its absence). */
import { isUserId, type MessageFrame } from '@herald/types';
import type { Command } from '../command';
import { failure, usageError } from '../cli-error';
import { settingOrigin } from '../config';
import { redisUrl } from '../services';
import { formatTable } from '../table';

/** Give up on an unreachable Redis after this long. */
const CONNECT_TIMEOUT_MS = 5000;

export const inboxCommand: Command = {
  name: 'inbox',
  summary: "show a user's offline list (unacknowledged message ids) and their bodies",
  help: `Usage: herald inbox <userId> [--json] [--redis <url>]

Reads the user's offline list straight from Redis, oldest first, with each message's body: what
the gateway would deliver if the user connected now. A body that has expired (its TTL passed)
shows as "(expired)"; the gateway drops such ids at the next delivery.

Options:
  --json          one JSON object per line: {"position","id","message"|null,"expiresAt"}
  --redis <url>   Redis (default: REDIS_URL, or REDIS_CLUSTER_NODES for a Cluster, else the Redis
                  of the npm run dev that runs in this checkout (.herald/dev.json), else
                  redis://127.0.0.1:6379)
  -h, --help      this help
`,
  options: {
    json: { type: 'boolean' },
    redis: { type: 'string' },
  },
  async run({ args, config, io }) {
    const [userId] = args.positional(['userId']);
    if (!isUserId(userId)) throw usageError(`"${userId}" is not a valid user id (1-128 of A-Z a-z 0-9 _ - . : @)`);
    const flag = args.string('redis');
    const url = redisUrl(args, config);
    const cluster = flag ? undefined : config.REDIS_CLUSTER_NODES;
    const where = cluster ? `the Redis Cluster at ${cluster.map((n) => `${n.host}:${n.port}`).join(',')}` : `Redis at ${url}`;
    const origin = flag ? '--redis' : settingOrigin(config, cluster ? 'REDIS_CLUSTER_NODES' : 'REDIS_URL', '--redis');
    // Loaded here, not at the top: every other command starts without ioredis and @herald/http.
    const [{ withTimeout }, { createRedis, decodeMessage, loadMessages, readInbox }] = await Promise.all([
      import('@herald/http'),
      import('@herald/redis'),
    ]);
    const redis = createRedis({ REDIS_URL: url, REDIS_CLUSTER_NODES: cluster }, 'commands', 'herald-cli');
    // A failed connection attempt is reported by the command that waits for it, not as an event.
    redis.on('error', () => undefined);
    try {
      const { ids, bodies } = await withTimeout(
        (async () => {
          const inbox = await readInbox(redis, userId);
          return { ids: inbox, bodies: await loadMessages(redis, inbox) };
        })(),
        CONNECT_TIMEOUT_MS,
        'reading the inbox',
      ).catch((err: unknown) => {
        throw failure(`cannot read ${where} (${(err as Error).message}); it comes from ${origin}`);
      });
      const entries = ids.map((id, i) => {
        const body = bodies[i];
        const decoded = body === null ? null : decodeMessage(body);
        const message = decoded ? (JSON.parse(String(decoded.frame)) as MessageFrame) : null;
        return { position: i + 1, id, message, expiresAt: decoded ? new Date(decoded.expiresAt).toISOString() : null };
      });
      if (args.flag('json')) {
        for (const entry of entries) io.stdout.write(`${JSON.stringify(entry)}\n`);
        return;
      }
      if (entries.length === 0) {
        io.stdout.write(`${userId} has no offline messages\n`);
        return;
      }
      io.stdout.write(
        formatTable(
          ['#', 'id', 'category', 'created', 'expires', 'payload'],
          entries.map((e) => [
            e.position,
            e.id,
            e.message ? (e.message.category ?? '(direct)') : null,
            e.message?.createdAt,
            e.expiresAt,
            e.message ? JSON.stringify(e.message.payload) : '(expired)',
          ]),
        ),
      );
      const expired = entries.filter((e) => !e.message).length;
      io.stdout.write(`${entries.length} offline message${entries.length === 1 ? '' : 's'}${expired ? `, ${expired} expired` : ''}\n`);
    } finally {
      // Read-only: nothing to flush, and a polite QUIT would wait on an unreachable server.
      redis.disconnect();
    }
  },
};
