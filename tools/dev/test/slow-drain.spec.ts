/**
 * Large offline messages over a slow link, against the gateway process: 10 messages of 200 KB wait
 * for a user whose client reads through a throttled link (support/slow-link.py: a loopback proxy
 * that behaves like a network, 400 KB/s towards the client) and acks each message it reads. The
 * drain paces itself by the socket instead of tripping the 1 MB slow-consumer cut-off (4009), and
 * acks that reach the gateway after it has closed a session still count: every message arrives
 * and is acked within 3 reconnects.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Redis from 'ioredis';
import { signToken, startTestStack, TestClient, waitFor, type Stack } from '@herald/testing';
import { StackClient } from './support/stack-client';

const MESSAGES = 10;
const MESSAGE_BYTES = 200 * 1024;
/** Bytes per second the link carries towards the client. */
const LINK_RATE = 400 * 1024;
const MAX_RECONNECTS = 3;
/** Waves of MESSAGES live messages sent at most before the gateway has cut a slow reader off. */
const WAVES = 5;

let stack: Stack;
let c: StackClient;
let redis: Redis;
let link: ChildProcess | undefined;
let linkUrl: string;

beforeAll(async () => {
  ({ stack } = await startTestStack({ EXPOSURE_TOPIC: 'exposures-slow-drain' }, { withoutConsumer: true }));
  c = await StackClient.create(stack);
  redis = new Redis(stack.redis!.url);
  const gateway = new URL(stack.apps.gateway.url);
  link = spawn('python3', [join(__dirname, 'support', 'slow-link.py'), gateway.hostname, gateway.port, String(LINK_RATE)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<string>((resolve, reject) => {
    link!.once('error', (err) => reject(new Error(`cannot start python3 for the slow link (${err.message}); install python3`)));
    link!.once('exit', (code) => reject(new Error(`the slow link exited with ${code}`)));
    createInterface({ input: link!.stdout! }).once('line', resolve);
  });
  linkUrl = `ws://127.0.0.1:${port}/ws`;
}, 120_000);

afterAll(async () => {
  link?.kill('SIGKILL');
  redis?.disconnect();
  await stack?.stop();
}, 60_000);

it('delivers and acks 10 offline messages of 200 KB over a slow link within 3 reconnects', async () => {
  const user = `slow-${Date.now()}`;
  const blob = 'x'.repeat(MESSAGE_BYTES);
  const sent: string[] = [];
  for (let i = 0; i < MESSAGES; i++) sent.push(await c.send([user], { i, blob }));
  const inbox = `{u:${user}}:inbox`;
  expect(await redis.llen(inbox)).toBe(MESSAGES);

  const received = new Set<string>();
  const closes: number[] = [];
  const token = await signToken(user);
  let connections = 0;
  while ((await redis.llen(inbox)) > 0 && connections <= MAX_RECONNECTS) {
    connections++;
    const client = await TestClient.connect(linkUrl, token);
    // Ack each message as it is read, as the SDK does (it batches; one by one is the slow case).
    client.ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type: string; id?: string };
      if (frame.type !== 'message' || !frame.id) return;
      received.add(frame.id);
      if (client.ws.readyState === client.ws.OPEN) client.ack([frame.id]);
    });
    // Until the inbox is empty, or the gateway gives up on this connection.
    await waitFor(async () => client.closeCode !== undefined || (await redis.llen(inbox)) === 0, {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: 'the inbox to empty or the connection to close',
    });
    if (client.closeCode !== undefined) closes.push(client.closeCode);
    await client.close();
  }
  process.stdout.write(`slow drain: ${connections} connection(s), closes [${closes.join(', ')}], ${received.size} distinct messages\n`);
  expect([...received].sort()).toEqual([...sent].sort());
  expect(await redis.llen(inbox)).toBe(0);
  expect(connections).toBeLessThanOrEqual(1 + MAX_RECONNECTS);
  expect(await c.counter(stack.apps.gateway, 'herald_gateway_closes_total{code="4009"}')).toBe(0);
}, 300_000);

it('counts the acks a slow client sends after the gateway closed it (4009), until its socket is gone', async () => {
  const user = `slow-live-${Date.now()}`;
  const token = await signToken(user);
  const inbox = `{u:${user}}:inbox`;
  const client = await TestClient.connect(linkUrl, token);
  await client.waitForFrame('welcome');
  let acked = 0;
  client.ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as { type: string; id?: string };
    if (frame.type !== 'message' || !frame.id || client.ws.readyState !== client.ws.OPEN) return;
    client.ack([frame.id]);
    acked++;
  });
  const acksBefore = await c.acksApplied();
  const slowCloses = () => c.counter(stack.apps.gateway, 'herald_gateway_closes_total{code="4009"}');
  const closesBefore = await slowCloses();
  // Live messages are not paced: 2 MB at once overflow the 1 MB send buffer of a slow reader. A
  // busy machine may spread a wave's sends over longer than the link takes to carry them (seen in
  // CI: no 4009, the client read them all), so waves follow until the gateway has cut it off.
  const blob = 'x'.repeat(MESSAGE_BYTES);
  let sent = 0;
  for (let wave = 0; wave < WAVES && (await slowCloses()) === closesBefore; wave++) {
    await Promise.all(Array.from({ length: MESSAGES }, (_, i) => c.send([user], { i: sent + i, blob })));
    sent += MESSAGES;
  }
  await client.waitForClose(30_000);
  expect(await slowCloses()).toBeGreaterThan(closesBefore);
  // The client read (and acked) some before it reached the close frame, or before the cut-off.
  expect(acked).toBeGreaterThan(0);
  await waitFor(async () => (await c.acksApplied()) - acksBefore > 0, { what: 'the acks sent after the close to be applied' });
  const applied = (await c.acksApplied()) - acksBefore;
  expect(await redis.llen(inbox)).toBe(sent - applied);
}, 120_000);
