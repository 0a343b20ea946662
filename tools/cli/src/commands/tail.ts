/**
 * `herald tail`: connect as a user through the client SDK and print every frame as one JSON line
 * (welcome, message, error) as it arrives; connection events go to stderr.
 */
import type { TokenSource } from '@herald/client';
import { isUserId } from '@herald/types';
import type { Command } from '../command';
import { failure, usageError } from '../cli-error';
import { devSecret, mintToken } from '../dev-tokens';
import { gatewayUrl } from '../services';

/** The `sub` of a JWT, read without verifying (to catch a token for another user early). */
function subjectOf(token: string): string | undefined {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sub?: unknown };
    return typeof claims.sub === 'string' ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}

export const tailCommand: Command = {
  name: 'tail',
  summary: "connect as a user and print frames as they arrive (acking them or not)",
  help: `Usage: herald tail <userId> [--ack] [--count <n>] [options]

Connects to the gateway as <userId> and prints each frame as one line of JSON on stdout: the
welcome, then the offline messages, then live ones. Connection events (disconnects, reconnects)
go to stderr. Runs until Ctrl-C, or until --count messages have arrived.

By default nothing is acknowledged, so the user's offline list is left as it was (tail is safe to
point at a real user); with --ack each message is acknowledged and leaves the list.

Options:
  --ack                  acknowledge each message
  --count <n>            exit (0) after n messages
  --token <jwt>          a token for <userId> (default: one minted with the dev secret, renewed as needed)
  --secret <secret>      dev secret (default: HERALD_DEV_SECRET, then AUTH_JWT_SECRET)
  --gateway <url>        the gateway (default: HERALD_GATEWAY_URL or ws://127.0.0.1:8080/ws)
  --heartbeat-ms <ms>    the gateway's HEARTBEAT_INTERVAL_MS, to notice a dead connection (default 30000)
  -h, --help             this help
`,
  options: {
    ack: { type: 'boolean' },
    count: { type: 'string' },
    token: { type: 'string' },
    secret: { type: 'string' },
    gateway: { type: 'string' },
    'heartbeat-ms': { type: 'string' },
  },
  async run({ args, config, io }) {
    const [userId] = args.positional(['userId']);
    if (!isUserId(userId)) throw usageError(`"${userId}" is not a valid user id (1-128 of A-Z a-z 0-9 _ - . : @)`);
    const count = args.int('count', 1, Number.MAX_SAFE_INTEGER);
    const heartbeatIntervalMs = args.int('heartbeat-ms', 0, 3_600_000);
    const url = gatewayUrl(args, config);
    let token: TokenSource;
    const given = args.string('token');
    if (given) {
      const sub = subjectOf(given);
      if (sub !== undefined && sub !== userId) throw usageError(`--token is for user "${sub}", not "${userId}"`);
      token = given;
    } else {
      const secret = devSecret({ flag: args.string('secret'), config });
      token = () =>
        mintToken({ secret, subject: userId, expiresIn: '1h', issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE });
    }

    // Loaded when needed, like every heavy import of the CLI.
    const [{ HeraldClient }, { WebSocket }] = await Promise.all([import('@herald/client'), import('ws')]);
    const client = new HeraldClient({ url, token, WebSocket, ack: args.flag('ack') ? 'auto' : 'manual', heartbeatIntervalMs });
    const print = (frame: object) => io.stdout.write(`${JSON.stringify(frame)}\n`);
    let received = 0;
    const done = new Promise<void>((resolve, reject) => {
      client.on('welcome', (welcome) => {
        io.stderr.write(`connected to ${url} as ${welcome.userId} (session ${welcome.sessionId})\n`);
        print(welcome);
      });
      client.on('serverError', print);
      client.on('message', (message) => {
        print(message);
        if (count !== undefined && ++received >= count) void client.close();
      });
      client.on('duplicate', (message) => io.stderr.write(`duplicate ${message.id} (sent again after a reconnect; printed before)\n`));
      client.on('error', (err) => io.stderr.write(`warning: ${err.message}\n`));
      client.on('disconnect', (d) =>
        io.stderr.write(
          `disconnected: ${d.refusedStatus ? `HTTP ${d.refusedStatus}` : d.code} ${d.reason}` +
            (d.reconnectInMs === null ? '\n' : `; reconnecting in ${d.reconnectInMs} ms\n`),
        ),
      );
      client.on('stopped', (s) => (s.error ? reject(failure(`stopped: ${s.error.message}`)) : resolve()));
    });
    const onSignal = () => void client.close();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      client.connect().catch(() => undefined);
      await done;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};
