/**
 * The gateway process at its door, from outside: 10k unauthenticated sockets and a set of
 * slowloris clients (an upgrade request trickled byte by byte) do not stop an authenticated
 * client from connecting and receiving, and the gateway drops the idle and trickling sockets after
 * HTTP_HEADERS_TIMEOUT_MS. Also: no token or secret ever appears in any app's log.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { signToken, startTestStack, TEST_JWT_SECRET, waitFor, type Stack } from '@herald/testing';
import { StackClient } from './support/stack-client';

const IDLE_SOCKETS = 10_000;
const SLOWLORIS = 50;
/** Source addresses the sockets are spread over (loopback only). */
const SOURCES = Array.from({ length: 12 }, (_, i) => `127.0.0.${i + 2}`);

let stack: Stack;
let lines: string[];
let c: StackClient;
const sockets: Socket[] = [];

beforeAll(async () => {
  ({ stack, lines } = await startTestStack(
    { LOG_LEVEL: 'debug', HTTP_HEADERS_TIMEOUT_MS: '3000', EXPOSURE_TOPIC: 'exposures-door' },
    { withoutConsumer: true },
  ));
  c = await StackClient.create(stack);
}, 120_000);

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await stack?.stop();
}, 60_000);

function open(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: '127.0.0.1', port, localAddress });
    socket.on('error', () => undefined); // the gateway resets them later; that is the point
    socket.resume(); // read what the gateway sends (its 408 and FIN), so the close is seen
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

it('serves an authenticated client while 10k idle sockets and slowloris clients hold the door, then drops them', async () => {
  const port = Number(new URL(stack.apps.gateway.url).port);
  for (let i = 0; i < IDLE_SOCKETS; i += 500) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(500, IDLE_SOCKETS - i) }, (_, j) => open(port, SOURCES[(i + j) % SOURCES.length])),
    );
    sockets.push(...batch);
  }
  const trickle = `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Slow: ${'a'.repeat(200)}`;
  const slow = await Promise.all(Array.from({ length: SLOWLORIS }, (_, i) => open(port, SOURCES[i % SOURCES.length])));
  sockets.push(...slow);
  let at = 0;
  const trickler = setInterval(() => {
    for (const s of slow) if (!s.destroyed) s.write(trickle[at % trickle.length]);
    at++;
  }, 100);
  try {
    // Meanwhile a real client connects and gets a live message.
    const user = `door-${Date.now()}`;
    const client = await c.connect(user);
    const id = await c.send([user], 'through the crowd');
    expect((await client.waitForMessages(1))[0].id).toBe(id);
    await client.close();

    // Idle and trickling sockets are closed by the header timeout (plus Node's check interval).
    const closed = () => sockets.filter((s) => s.destroyed || s.readableEnded).length;
    await waitFor(() => closed() === sockets.length, {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: `all ${sockets.length} unauthenticated sockets closed by the gateway`,
    });
  } finally {
    clearInterval(trickler);
  }
}, 120_000);

it('never writes a token or the secret to a log line', async () => {
  // Tokens in every place a client may put one, refused and accepted, at debug level.
  const user = `logs-${Date.now()}`;
  const token = await signToken(user);
  const client = await c.connect(user);
  await client.close();
  await fetch(`${stack.gateways[0].url}/ws?access_token=${token}`).catch(() => undefined);
  const bad = `${token.slice(0, -4)}AAAA`;
  const res = await fetch(`${stack.apps.ingest.url}/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bad}`, 'content-type': 'application/json' },
    body: '{}',
  });
  expect(res.status).toBe(401);
  await c.send([user], 'x');
  await waitFor(() => lines.some((l) => l.includes('upgrade refused') || l.includes('token refused')), {
    what: 'the refusals to be logged',
  });
  const all = lines.join('\n');
  expect(lines.length).toBeGreaterThan(10);
  for (const secret of [token, bad, c.producer, TEST_JWT_SECRET]) expect(all).not.toContain(secret);
  // Not even a token's signature part alone.
  expect(all).not.toContain(token.split('.')[2]);
});
