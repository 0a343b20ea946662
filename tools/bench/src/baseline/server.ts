/**
 * The floor Herald is measured against: the least a Node process can do to push Redis messages
 * over WebSocket with `ws`. No auth, no acks, no inbox, no exposure events.
 *
 * - A client connects to `/?u=<userId>`; on a user's first socket the server SUBSCRIBEs (one
 *   subscriber connection) to the user's channel and, once Redis confirms, sends `{"type":"welcome"}`
 *   so the bench knows messages published from then on will arrive.
 * - Each message on a user's channel is a frame serialized by the producer; it is sent as it is
 *   to the user's sockets.
 * - Each message on the broadcast channel goes to every connected socket (one Set, one string).
 *
 * Run as `node --import tsx tools/bench/src/baseline/server.ts` with REDIS_URL set (HOST and PORT
 * optional; PORT 0 picks a free port). It prints `BASELINE_LISTENING <port>` when it can take
 * clients, and stops on SIGTERM/SIGINT.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import Redis from 'ioredis';
import { WebSocketServer, type WebSocket } from 'ws';
import { baselineChannels } from './channels';

export const READY_LINE_PREFIX = 'BASELINE_LISTENING ';
const WELCOME = '{"type":"welcome"}';
/** Same bound as the gateway's default WS_MAX_PAYLOAD_BYTES; clients send nothing anyway. */
const MAX_PAYLOAD_BYTES = 16 * 1024;

interface ServerConfig {
  redisUrl: string;
  host: string;
  port: number;
}

function readConfig(env: NodeJS.ProcessEnv): ServerConfig {
  const redisUrl = env.REDIS_URL;
  if (!redisUrl) throw new Error('REDIS_URL must be set (redis://host:port of the Redis to subscribe to)');
  const port = Number(env.PORT ?? '0');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number from 0 to 65535, got "${env.PORT}"`);
  return Object.freeze({ redisUrl, host: env.HOST ?? '127.0.0.1', port });
}

/** The sockets of one user, and the SUBSCRIBE that makes its channel live. */
interface Audience {
  sockets: Set<WebSocket>;
  subscribed: Promise<unknown>;
}

function main(): void {
  const config = readConfig(process.env);
  const sub = new Redis(config.redisUrl, { connectionName: 'baseline:subscriber', maxRetriesPerRequest: null });
  const byChannel = new Map<string, Audience>();
  const everyone = new Set<WebSocket>();

  sub.on('message', (channel: string, frame: string) => {
    const sockets = channel === baselineChannels.everyone ? everyone : byChannel.get(channel)?.sockets;
    if (sockets) for (const ws of sockets) ws.send(frame);
  });
  sub.on('error', (err: Error) => process.stderr.write(`baseline: redis subscriber: ${err.message}\n`));

  const http = createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false, maxPayload: MAX_PAYLOAD_BYTES });

  http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const userId = new URLSearchParams((request.url ?? '').split('?')[1] ?? '').get('u');
    if (!userId) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => open(ws, userId));
  });

  function open(ws: WebSocket, userId: string): void {
    const channel = baselineChannels.user(userId);
    let audience = byChannel.get(channel);
    if (!audience) {
      audience = { sockets: new Set(), subscribed: sub.subscribe(channel) };
      byChannel.set(channel, audience);
    }
    audience.sockets.add(ws);
    everyone.add(ws);
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      everyone.delete(ws);
      const current = byChannel.get(channel);
      if (!current?.sockets.delete(ws) || current.sockets.size > 0) return;
      byChannel.delete(channel);
      sub.unsubscribe(channel).catch((err: Error) => process.stderr.write(`baseline: unsubscribe ${channel}: ${err.message}\n`));
    });
    audience.subscribed.then(
      () => ws.send(WELCOME),
      (err: Error) => {
        process.stderr.write(`baseline: subscribe ${channel}: ${err.message}\n`);
        ws.close(1011);
      },
    );
  }

  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(1);
    stopping = true;
    for (const ws of everyone) ws.terminate();
    http.close();
    sub.quit().then(
      () => process.exit(0),
      () => process.exit(0),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  sub
    .subscribe(baselineChannels.everyone)
    .then(
      () =>
        new Promise<void>((resolve, reject) => {
          http.once('error', reject);
          http.listen(config.port, config.host, () => resolve());
        }),
    )
    .then(
      () => {
        const address = http.address();
        const port = typeof address === 'object' && address ? address.port : config.port;
        process.stdout.write(`${READY_LINE_PREFIX}${port}\n`);
      },
      (err: Error) => {
        process.stderr.write(`baseline: could not start: ${err.message}\n`);
        process.exit(1);
      },
    );
}

if (require.main === module) main();
