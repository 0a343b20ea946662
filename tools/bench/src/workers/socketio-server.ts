/**
 * The Socket.IO peer Herald is measured against: what a Socket.IO 4 user builds to push Redis
 * messages to users, a Socket.IO server with @socket.io/redis-adapter on the rig's Redis and a
 * producer elsewhere using @socket.io/redis-emitter (workers/sender.ts, `emitter.to(room).emit`).
 * No auth, no inbox, no exposure events. A worker process (protocol.ts): `{ type: 'listen',
 * redisUrl }` starts it on a free loopback port and answers the port.
 *
 * - WebSocket transport only (no long-polling upgrade), no per-message deflate: as the bench's
 *   clients connect (workers/socketio-frames.ts), and as Herald's gateway runs.
 * - A client connects with `?u=<userId>`; its socket joins the user's room (writes.ts
 *   `socketioRoom`) and gets a `welcome` event, once the adapter's subscription is live.
 * - The emitter's `message` events reach the room's sockets; clients answer with an `ack` event
 *   carrying the message ids of one event-loop turn (what a Socket.IO user does when the producer
 *   is an emitter, which cannot ask for acknowledgement callbacks); the server reads them.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createAdapter } from '@socket.io/redis-adapter';
import Redis from 'ioredis';
import { Server } from 'socket.io';
import { socketioRoom } from '../writes';
import { serveRequests } from './protocol';

/** Same bound as the gateway's default WS_MAX_PAYLOAD_BYTES. */
const MAX_PAYLOAD_BYTES = 16 * 1024;
/** How long the adapter may take to subscribe on a fresh local Redis. */
const SUBSCRIBE_DEADLINE_MS = 10_000;

async function listen(redisUrl: string): Promise<number> {
  const pub = new Redis(redisUrl, { connectionName: 'socketio:pub', maxRetriesPerRequest: null });
  const sub = new Redis(redisUrl, { connectionName: `socketio:sub:${process.pid}`, maxRetriesPerRequest: null });
  for (const client of [pub, sub]) client.on('error', (err: Error) => process.stderr.write(`socketio: redis: ${err.message}\n`));
  /** Ids acked, as a server that acts on acks would at least read them. */
  let acked = 0;
  const http = createServer((_req, res) => res.writeHead(404).end());
  const io = new Server(http, {
    transports: ['websocket'],
    perMessageDeflate: false,
    httpCompression: false,
    serveClient: false,
    maxHttpBufferSize: MAX_PAYLOAD_BYTES,
    adapter: createAdapter(pub, sub),
  });
  io.on('connection', (socket) => {
    const userId = socket.handshake.query.u;
    if (typeof userId !== 'string' || userId === '') return void socket.disconnect(true);
    void socket.join(socketioRoom(userId));
    socket.on('ack', (ids: unknown) => void (acked += Array.isArray(ids) ? ids.length : 0));
    socket.emit('welcome');
  });
  // The adapter PSUBSCRIBEs on its own; a welcome before that lands would promise messages that go
  // nowhere. Its own connection's pattern count, by name: other servers' count in PUBSUB NUMPAT too.
  const deadline = Date.now() + SUBSCRIBE_DEADLINE_MS;
  const subscribed = async () => {
    const list = String(await pub.call('CLIENT', 'LIST'));
    return list.split('\n').some((line) => line.includes(` name=socketio:sub:${process.pid} `) && !/ psub=0 /.test(line));
  };
  while (!(await subscribed())) {
    if (Date.now() > deadline) throw new Error(`the Redis adapter did not subscribe within ${SUBSCRIBE_DEADLINE_MS} ms`);
    await sleep(10);
  }
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', resolve);
  });
  return (http.address() as AddressInfo).port;
}

serveRequests(async (request: { type: 'listen'; redisUrl: string }) => listen(request.redisUrl));
