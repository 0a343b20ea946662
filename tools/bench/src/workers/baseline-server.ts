/**
 * The floor Herald is measured against: the least a Node process can do to push Redis messages
 * over WebSocket with `ws` (no auth, inbox or exposures). A client connects to
 * `/?u=<userId>`; the welcome waits for the SUBSCRIBE, so what is published from then on arrives.
 * Each message on a channel is a ready frame, sent as it is.
 *
 * Listening with `acks` (the `ws-ack` target), it also reads what an at-least-once server must:
 * every client frame is parsed as JSON and the ids of its `ack`s counted (`acks` request), and
 * nothing else is done with them. Without it the clients send nothing (they do not ack).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { BASELINE_EVERYONE, baselineChannel } from '../writes';
import { serveRequests } from './protocol';

const WELCOME = '{"type":"welcome"}';
/** Same bound as the gateway's default WS_MAX_PAYLOAD_BYTES. */
const MAX_PAYLOAD_BYTES = 16 * 1024;

type Request = { type: 'listen'; redisUrl: string; acks?: boolean } | { type: 'acks' };

/** Ids acknowledged by the clients so far (read only when listening with `acks`). */
let acksRead = 0;

/** A client frame: an ack's ids are counted; anything else (there is nothing else) is ignored. */
function readAck(data: RawData, isBinary: boolean): void {
  if (isBinary) return;
  try {
    const frame = JSON.parse(data.toString()) as { type?: unknown; ids?: unknown };
    if (frame.type === 'ack' && Array.isArray(frame.ids)) acksRead += frame.ids.length;
  } catch {
    process.stderr.write('baseline: a client frame that is not JSON\n');
  }
}

async function listen(redisUrl: string, acks: boolean): Promise<number> {
  const sub = new Redis(redisUrl, { connectionName: 'baseline:subscriber', maxRetriesPerRequest: null });
  const byChannel = new Map<string, { sockets: Set<WebSocket>; subscribed: Promise<unknown> }>();
  const everyone = new Set<WebSocket>();
  sub.on('message', (channel: string, frame: string) => {
    const sockets = channel === BASELINE_EVERYONE ? everyone : byChannel.get(channel)?.sockets;
    if (sockets) for (const ws of sockets) ws.send(frame);
  });
  sub.on('error', (err: Error) => process.stderr.write(`baseline: redis subscriber: ${err.message}\n`));

  const http = createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false, maxPayload: MAX_PAYLOAD_BYTES });
  http.on('upgrade', (request, socket, head) => {
    const userId = new URLSearchParams((request.url ?? '').split('?')[1] ?? '').get('u');
    if (!userId) return void socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    wss.handleUpgrade(request, socket, head, (ws) => {
      const channel = baselineChannel(userId);
      let audience = byChannel.get(channel);
      if (!audience) byChannel.set(channel, (audience = { sockets: new Set(), subscribed: sub.subscribe(channel) }));
      audience.sockets.add(ws);
      everyone.add(ws);
      ws.on('error', () => ws.terminate());
      if (acks) ws.on('message', readAck);
      ws.on('close', () => {
        everyone.delete(ws);
        const current = byChannel.get(channel);
        if (!current?.sockets.delete(ws) || current.sockets.size > 0) return;
        byChannel.delete(channel);
        sub.unsubscribe(channel).catch((err: Error) => process.stderr.write(`baseline: unsubscribe ${channel}: ${err.message}\n`));
      });
      audience.subscribed.then(() => ws.send(WELCOME), () => ws.close(1011));
    });
  });
  await sub.subscribe(BASELINE_EVERYONE);
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', resolve);
  });
  return (http.address() as AddressInfo).port;
}

serveRequests(async (request: Request) => (request.type === 'listen' ? listen(request.redisUrl, request.acks === true) : acksRead));
