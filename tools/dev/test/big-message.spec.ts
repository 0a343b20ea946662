/**
 * One producer request within the documented limits must not get a gateway's Redis subscriber
 * dropped (Redis's default `client-output-buffer-limit pubsub 32mb 8mb 60`), which would close
 * every session of that gateway with 1012: a ~250 KB message to 1,000 users connected to one
 * gateway, against real processes and a redis-server with default limits.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import WebSocket from 'ws';
import { PUBSUB_SOFT_LIMIT_BYTES } from '@herald/redis';
import { fetchMetric, signToken, startTestStack, waitFor, type Stack } from '@herald/testing';
import { StackClient } from './support/stack-client';

const USERS = 1000;
/** With the 1,000 user ids, just under MAX_BODY_BYTES (256 KiB). */
const PAYLOAD_CHARS = 250_000;
const CONNECT_BATCH = 100;
const SAMPLE_MS = 5;

/** A bare client: what it needs to know, without keeping 1,000 copies of the payload. */
interface Client {
  ws: WebSocket;
  welcomed: boolean;
  /** Ids of the message frames received. */
  got: Set<string>;
  closeCode?: number;
}

const FRAME_HEAD = /^\{"type":"(\w+)"(?:,"id":"([^"]+)")?/;

function connect(url: string, token: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    const client: Client = { ws, welcomed: false, got: new Set() };
    ws.on('message', (data: Buffer) => {
      const [, type, id] = FRAME_HEAD.exec(data.subarray(0, 120).toString()) ?? [];
      if (type === 'welcome') {
        client.welcomed = true;
        resolve(client);
      } else if (type === 'message' && id) client.got.add(id);
    });
    ws.on('close', (code) => (client.closeCode = code));
    ws.once('error', reject);
  });
}

/**
 * Samples, every few ms, the output buffer Redis holds for the gateway's subscriber (CLIENT LIST
 * `omem`); `stop()` resolves with the largest seen.
 */
function watchSubscriberBuffer(redisUrl: string): { stop(): Promise<number> } {
  const redis = new Redis(redisUrl);
  let peak = 0;
  let running = true;
  const sampling = (async () => {
    while (running) {
      const list = (await redis.client('LIST')) as string;
      for (const line of list.split('\n')) {
        if (line.includes('name=gateway:subscriber')) peak = Math.max(peak, Number(/omem=(\d+)/.exec(line)?.[1] ?? 0));
      }
      await sleep(SAMPLE_MS); // a sampling period, not a condition: the peak is read between samples
    }
  })();
  return {
    async stop() {
      running = false;
      await sampling;
      redis.disconnect();
      return peak;
    },
  };
}

let stack: Stack;
let c: StackClient;
const clients: Client[] = [];

beforeAll(async () => {
  ({ stack } = await startTestStack(
    { WS_MAX_CONNECTIONS_PER_IP: String(2 * USERS), EXPOSURE_TOPIC: 'exposures-big-message' },
    { withoutConsumer: true },
  ));
  c = await StackClient.create(stack);
}, 120_000);

afterAll(async () => {
  for (const client of clients) client.ws.terminate();
  await stack?.stop();
}, 60_000);

it('delivers a ~250 KB message to 1,000 users of one gateway without dropping its subscriber', async () => {
  const userIds = Array.from({ length: USERS }, (_, i) => `big-${i}`);
  for (let start = 0; start < USERS; start += CONNECT_BATCH) {
    const batch = userIds.slice(start, start + CONNECT_BATCH);
    clients.push(...(await Promise.all(batch.map(async (u) => connect(c.wsUrl(), await signToken(u))))));
  }

  const buffer = watchSubscriberBuffer(stack.env.REDIS_URL!);
  const id = await c.send(userIds, 'x'.repeat(PAYLOAD_CHARS));

  await waitFor(() => clients.every((client) => client.got.has(id) || client.closeCode !== undefined), {
    timeoutMs: 60_000,
    what: 'every client to get the message or be closed',
  });
  expect(clients.filter((client) => client.closeCode !== undefined).map((client) => client.closeCode)).toEqual([]);
  expect(clients.filter((client) => client.got.has(id))).toHaveLength(USERS);
  expect(await fetchMetric(stack.apps.gateway.adminUrl, 'herald_gateway_resyncs_total')).toBe(0);
  // Far from the limits: one body read instead of 1,000 copies through the subscriber.
  expect(await buffer.stop()).toBeLessThan(PUBSUB_SOFT_LIMIT_BYTES / 8);
}, 180_000);
