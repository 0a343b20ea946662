/**
 * The SDK in Node (with the `ws` package) against a real stack: gateway and ingest as processes, a
 * private Redis, a Pub/Sub emulator. The gateway pings every 300 ms (so silence is detected within
 * seconds), expires tokens without clock tolerance (so 4001 comes on time) and accepts frames of at
 * most 1 KiB (so acknowledgements must be split to get through).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import WebSocket from 'ws';
import { PubSub, type Message as PubSubMessage } from '@google-cloud/pubsub';
import { ensureSubscription, topicEvents, fetchMetric, pubsubClientOptions, signToken, waitFor } from '@herald/testing';
import {
  HeraldClient,
  HeraldClientError,
  type DeliveredMessage,
  type DisconnectInfo,
  type HeraldClientOptions,
  type MessageFrame,
  type StoppedInfo,
  type WelcomeFrame,
} from '../src';
import { startClientStack, type ClientStack } from './support/client-stack';

jest.setTimeout(60_000);

const HEARTBEAT_INTERVAL_MS = 300;
const MAX_FRAME_BYTES = 1024;

let env: ClientStack;
const clients: HeraldClient[] = [];

beforeAll(async () => {
  env = await startClientStack({
    HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_INTERVAL_MS),
    AUTH_CLOCK_TOLERANCE_SECONDS: '0',
    WS_MAX_PAYLOAD_BYTES: String(MAX_FRAME_BYTES),
  });
}, 120_000);

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await env?.stop();
}, 60_000);

let userSeq = 0;
const newUser = (label: string) => `sdk-${label}-${process.pid}-${++userSeq}`;

/** A client with the test gateway's settings and everything it emits recorded. */
function client(opts: Partial<HeraldClientOptions> & Pick<HeraldClientOptions, 'token'>) {
  const c = new HeraldClient({
    url: env.wsUrl(),
    WebSocket,
    heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
    maxFrameBytes: MAX_FRAME_BYTES,
    reconnect: { initialDelayMs: 100, maxDelayMs: 1000, restartJitterMs: 300 },
    ...opts,
  });
  clients.push(c);
  const seen = {
    messages: [] as DeliveredMessage[],
    welcomes: [] as WelcomeFrame[],
    disconnects: [] as DisconnectInfo[],
    stopped: [] as StoppedInfo[],
    errors: [] as Error[],
  };
  c.on('message', (m) => seen.messages.push(m));
  c.on('welcome', (w) => seen.welcomes.push(w));
  c.on('disconnect', (d) => seen.disconnects.push(d));
  c.on('stopped', (s) => seen.stopped.push(s));
  c.on('error', (e) => seen.errors.push(e));
  return { client: c, seen };
}

async function sendMany(userId: string, n: number, label: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await env.send([userId], { label, n: i }));
  return ids;
}

it('delivers offline messages in order, then live ones, to the iterator and the event API; auto ack empties the offline list', async () => {
  const user = newUser('flow');
  const offline = await sendMany(user, 3, 'offline');
  const { client: c, seen } = client({ token: await signToken(user) });
  const stream = c.messages();
  const welcome = await c.connect();
  expect(welcome).toMatchObject({ type: 'welcome', userId: user });
  expect(c.state).toBe('open');

  const fromIterator: MessageFrame[] = [];
  for await (const m of stream) {
    fromIterator.push(m);
    if (fromIterator.length === 3) break;
  }
  expect(fromIterator.map((m) => m.id)).toEqual(offline);
  expect(fromIterator[0]).toMatchObject({ type: 'message', category: null, payload: { label: 'offline', n: 0 } });

  const live = await env.send([user], { label: 'live' });
  await waitFor(() => seen.messages.length === 4, { what: 'the live message' });
  expect(seen.messages.map((m) => m.id)).toEqual([...offline, live]);
  expect(await waitFor(async () => (await env.inbox(user)).length === 0, { what: 'acks to empty the offline list' })).toBe(true);
  expect(c.stats).toMatchObject({ sessions: 1, messages: 4, duplicates: 0, idsAcked: 4 });

  const ended = c.messages();
  await c.close();
  await expect(ended.next()).resolves.toEqual({ value: undefined, done: true });
  expect(c.state).toBe('closed');
  expect(seen.stopped).toEqual([{ code: 1000, reason: 'closed by the app' }]);
  expect(seen.disconnects).toEqual([]);
  await expect(c.connect()).rejects.toMatchObject({ code: 'CLOSED' });
});

it('hands over updates and recalls of delivered messages (onUpdate, onDelete), acknowledging a recalled one', async () => {
  const user = newUser('changes');
  const { client: c, seen } = client({ token: await signToken(user), ack: 'manual' });
  const updates: unknown[] = [];
  const deletes: unknown[] = [];
  c.onUpdate((u) => updates.push(u));
  c.onDelete((d) => deletes.push(d));
  await c.connect();
  const [first, second] = await sendMany(user, 2, 'changes');
  await waitFor(() => seen.messages.length === 2, { what: 'two messages' });

  expect(await env.change('PATCH', first, { payload: 'edited' })).toBe(200);
  await waitFor(() => updates.length === 1, { what: 'the update' });
  expect(updates[0]).toMatchObject({ type: 'update', id: first, payload: 'edited' });

  expect(await env.change('DELETE', second)).toBe(200);
  await waitFor(() => deletes.length === 1, { what: 'the delete' });
  expect(deletes).toEqual([{ type: 'delete', id: second }]);
  // Never acknowledged by the app: acknowledged for it once recalled, and only that one.
  await waitFor(() => c.stats.idsAcked === 1, { what: 'the recalled id acknowledged' });
  expect(c.pendingAckCount).toBe(0);
  expect(await env.inbox(user)).toEqual([first]);
});

it('acknowledges, with auto ack, the message whose listener closes the client', async () => {
  const user = newUser('close-in-listener');
  const [first, second] = await sendMany(user, 2, 'close');
  const { client: c } = client({ token: await signToken(user) });
  c.on('message', (m) => void (m.id === second && c.close()));
  await c.connect();
  await waitFor(() => c.state === 'closed', { what: 'the listener to close the client' });
  expect(c.stats).toMatchObject({ messages: 2, idsAcked: 2 });
  await waitFor(async () => (await env.inbox(user)).length === 0, { what: `acks of ${first} and ${second} applied` });
});

it('with manual ack, refreshes the token after 4001, suppresses the resent messages, and ack() removes them', async () => {
  const user = newUser('manual');
  const offline = await sendMany(user, 3, 'manual');
  let tokensIssued = 0;
  const { client: c, seen } = client({
    token: () => {
      tokensIssued++;
      return signToken(user, { expiresIn: '3s' });
    },
    ack: 'manual',
    refreshBeforeExpiryMs: false,
  });
  await c.connect();
  await waitFor(() => seen.messages.length === 3, { what: '3 offline messages' });

  // The gateway closes at exp (no tolerance): 4001, a new token, a new session.
  await waitFor(() => seen.welcomes.length === 2, { timeoutMs: 15_000, what: 'a second session' });
  expect(seen.disconnects[0]).toMatchObject({ code: 4001, action: 'refresh' });
  expect(tokensIssued).toBe(2);
  // Never acknowledged, so sent again on the new session: suppressed, not handed over twice.
  await waitFor(() => c.stats.duplicates === 3, { what: '3 duplicates' });
  expect(seen.messages.map((m) => m.id)).toEqual(offline);
  expect(await env.inbox(user)).toEqual(offline);

  c.ack(offline[0]);
  c.ack([offline[2]]);
  await waitFor(async () => (await env.inbox(user)).length === 1, { what: 'two acks applied' });
  expect(await env.inbox(user)).toEqual([offline[1]]);
  expect(seen.stopped).toEqual([]);
});

describe('replace keys', () => {
  it('hands over a replacing message with `replaces` and acknowledges the replaced one itself', async () => {
    const user = newUser('replace');
    const { client: c, seen } = client({ token: () => signToken(user), ack: 'manual' });
    await c.connect();
    const first = await env.send([user], '2 comments', { replaceKey: 'post-1' });
    await waitFor(() => seen.messages.length === 1, { what: 'the first message' });
    const second = await env.send([user], '3 comments', { replaceKey: 'post-1' });
    await waitFor(() => seen.messages.length === 2, { what: 'the replacing message' });
    expect(seen.messages[1]).toMatchObject({ id: second, replaces: first, replaceKey: 'post-1', payload: '3 comments' });
    expect(c.stats.replaced).toBe(1);
    // Acknowledged without the app asking (manual mode): the one id sent so far.
    await waitFor(() => c.stats.idsAcked === 1, { what: 'the implicit ack of the replaced id' });
    c.ack(second);
    await waitFor(async () => (await env.inbox(user)).length === 0, { what: 'the ack of the new one' });
  });

  it("moves a category member's position past the replaced message it never acknowledged", async () => {
    const user = newUser('replace-cat');
    const category = `sdk-rk-${process.pid}`;
    await env.setCategories(user, [category]);
    const { client: c, seen } = client({ token: () => signToken(user), ack: 'manual' });
    await c.connect();
    const first = await env.publish(category, '1-0', { replaceKey: 'score' });
    await waitFor(() => seen.messages.length === 1, { what: 'the first score' });
    const second = await env.publish(category, '2-0', { replaceKey: 'score' });
    await waitFor(() => seen.messages.length === 2, { what: 'the new score' });
    expect(seen.messages[1]).toMatchObject({ id: second, replaces: first, category });
    // The app acknowledges only what it shows; the position can pass the first only if the client
    // acknowledged it too.
    c.ack(second);
    await waitFor(
      async () => {
        const { at, last } = await env.position(user, category);
        return at !== null && at === last;
      },
      { what: "the member's position at the new entry" },
    );
  });
});

it('reports opened, clicked and dismissed from the message objects, once per message and kind; the gateway publishes each', async () => {
  const user = newUser('engage');
  const { PUBSUB_EMULATOR_HOST, PUBSUB_PROJECT_ID, EXPOSURE_TOPIC } = env.stack.env;
  const pubsub = new PubSub(pubsubClientOptions(PUBSUB_EMULATOR_HOST!, PUBSUB_PROJECT_ID!));
  const subscription = await ensureSubscription(pubsub, EXPOSURE_TOPIC ?? 'exposures', `sdk-engagement-${process.pid}`, 30);
  const events: Record<string, unknown>[] = [];
  subscription.on('message', (m: PubSubMessage) => {
    for (const { data: event, attributes } of topicEvents(m)) if (event.userId === user && attributes.kind) events.push(event);
    m.ack();
  });
  try {
    const [first, second] = await sendMany(user, 2, 'engage');
    const sent: string[] = [];
    class Recording extends WebSocket {
      override send(data: Parameters<WebSocket['send']>[0], ...rest: unknown[]): void {
        sent.push(String(data));
        (super.send as (...args: unknown[]) => void).call(this, data, ...rest);
      }
    }
    const { client: c, seen } = client({ token: await signToken(user), WebSocket: Recording });
    await c.connect();
    await waitFor(() => seen.messages.length === 2, { what: 'two messages' });
    const [a, b] = seen.messages;
    expect(a).toMatchObject({ id: first, payload: { label: 'engage', n: 0 } });
    a.opened();
    a.opened();
    a.clicked('read-more');
    b.opened();
    b.dismissed();
    expect(() => b.clicked('not an action')).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    await waitFor(() => events.length === 4, { what: `4 events on the topic (have ${events.length})` });
    const frames = sent.map((f) => JSON.parse(f) as { type: string }).filter((f) => f.type === 'event');
    expect(frames).toEqual([
      { type: 'event', ids: [first, second], kind: 'opened' },
      { type: 'event', id: first, kind: 'clicked', action: 'read-more' },
      { type: 'event', id: second, kind: 'dismissed' },
    ]);
    expect(c.stats).toMatchObject({ eventsSent: 4, eventFrames: 3 });
    const summary = events.map((e) => `${e.kind as string} ${e.messageId as string} ${(e.action as string) ?? ''}`).sort();
    expect(summary).toEqual([`clicked ${first} read-more`, `dismissed ${second} `, `opened ${first} `, `opened ${second} `].sort());
    expect(await fetchMetric(env.gateway().adminUrl, 'herald_gateway_events_refused_total', 'reason="invalid"')).toBe(0);
    expect(seen.errors).toEqual([]);
  } finally {
    await subscription.close();
    await pubsub.close();
  }
});

it('renews the token before it expires on a new connection, with no disconnect and no message twice', async () => {
  const user = newUser('rotate');
  let tokensIssued = 0;
  const { client: c, seen } = client({
    token: () => {
      tokensIssued++;
      return signToken(user, { expiresIn: '6s' });
    },
    // Renewed about 3 s in, leaving 3 s for the new connection before the old one's 4001.
    refreshBeforeExpiryMs: 3000,
  });
  await c.connect();
  await waitFor(() => seen.welcomes.length >= 2, { timeoutMs: 15_000, what: 'a session on a renewed token' });
  expect(tokensIssued).toBeGreaterThanOrEqual(2);
  expect(new Set(seen.welcomes.map((w) => w.sessionId)).size).toBe(seen.welcomes.length);
  const live = await env.send([user], { label: 'after renewal' });
  await waitFor(() => seen.messages.some((m) => m.id === live), { what: 'the live message' });
  expect(seen.messages.filter((m) => m.id === live)).toHaveLength(1);
  // Its ack goes out on the renewed connection, now the one in use.
  await waitFor(async () => (await env.inbox(user)).length === 0, { what: 'the ack sent on the renewed connection' });
  // Make before break: the old connection was closed on purpose, never reported as a disconnect.
  expect(seen.disconnects).toEqual([]);
  expect(c.state).toBe('open');
});

it('stops on 4001 when the token is a fixed string, ending the iterator with the error', async () => {
  const user = newUser('fixed');
  const { client: c, seen } = client({ token: await signToken(user, { expiresIn: '2s' }) });
  const stream = c.messages();
  await c.connect();
  const failure = stream.next();
  await expect(failure).rejects.toBeInstanceOf(HeraldClientError);
  await expect(failure).rejects.toMatchObject({ code: 'TOKEN_REJECTED', closeCode: 4001 });
  expect(seen.disconnects).toEqual([{ code: 4001, reason: 'token expired or invalid', action: 'stop', reconnectInMs: null }]);
  expect(seen.stopped).toHaveLength(1);
  expect(seen.stopped[0]).toMatchObject({ code: 4001, error: { code: 'TOKEN_REJECTED' } });
  expect(c.state).toBe('closed');
});

it('stops at once when the gateway refuses a fixed token with 401', async () => {
  const { client: c, seen } = client({ token: 'not-a-jwt' });
  await expect(c.connect()).rejects.toMatchObject({ code: 'TOKEN_REJECTED', closeCode: 401 });
  expect(seen.disconnects).toEqual([expect.objectContaining({ refusedStatus: 401, action: 'stop', reconnectInMs: null })]);
  expect(seen.welcomes).toEqual([]);
});

it('acknowledges a long offline list in ack frames the gateway accepts (split under its 1 KiB limit)', async () => {
  const user = newUser('bulk');
  const ids = (await Promise.all(Array.from({ length: 8 }, (_, i) => sendMany(user, 15, `bulk-${i}`)))).flat();
  expect(await env.inbox(user)).toHaveLength(120);
  const { client: c, seen } = client({ token: await signToken(user) });
  await c.connect();
  await waitFor(() => seen.messages.length === 120, { what: '120 messages' });
  await waitFor(async () => (await env.inbox(user)).length === 0, { what: 'all 120 acknowledged' });
  expect(new Set(seen.messages.map((m) => m.id))).toEqual(new Set(ids));
  // 120 UUIDs take about 4.7 KB: several frames, each accepted (an oversized one would be closed with 1009).
  expect(c.stats.ackFrames).toBeGreaterThanOrEqual(5);
  expect(seen.disconnects).toEqual([]);
});

it('detects a frozen gateway by its missing heartbeat, and reconnects once it runs again', async () => {
  const user = newUser('frozen');
  const { client: c, seen } = client({ token: await signToken(user), connectTimeoutMs: 1000 });
  await c.connect();
  const gateway = env.gateway().child;
  gateway.kill('SIGSTOP');
  try {
    await waitFor(() => seen.disconnects.length > 0, { what: 'the dead connection to be noticed' });
  } finally {
    gateway.kill('SIGCONT');
  }
  expect(seen.disconnects[0]).toMatchObject({ code: 1006, action: 'reconnect', reason: expect.stringMatching(/no heartbeat/) });
  await waitFor(() => seen.welcomes.length === 2, { timeoutMs: 20_000, what: 'a new session after the resume' });
  const live = await env.send([user], { label: 'after freeze' });
  await waitFor(() => seen.messages.some((m) => m.id === live), { what: 'a live message on the new session' });
});

it('honours 1012: reconnects when the gateway restarts and receives what was sent meanwhile', async () => {
  const user = newUser('restart');
  const { client: c, seen } = client({ token: await signToken(user) });
  await c.connect();
  await env.stopGateway();
  expect(seen.disconnects[0]).toMatchObject({ code: 1012, action: 'restart' });
  expect(seen.disconnects[0].reconnectInMs).toBeLessThan(300);
  const meanwhile = await env.send([user], { label: 'while the gateway was down' });
  await env.startGateway();
  await waitFor(() => seen.messages.some((m) => m.id === meanwhile), { timeoutMs: 20_000, what: 'the message sent meanwhile' });
  expect(seen.welcomes).toHaveLength(2);
  expect(seen.stopped).toEqual([]);
  // Attempts against the stopped gateway failed and backed off; none of them stopped the client.
  expect(seen.disconnects.slice(1).every((d) => d.action === 'reconnect')).toBe(true);
});

it('runs the Node example: prints each message, acknowledges it, and exits 0 on SIGINT', async () => {
  const user = newUser('example');
  const offline = await env.send([user], { text: 'waiting for you' });
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'examples', 'node.ts')], {
    cwd: join(__dirname, '..', '..', '..'),
    env: { PATH: process.env.PATH, HERALD_GATEWAY_URL: env.wsUrl(), HERALD_USER_TOKEN: await signToken(user) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitFor(() => stdout.includes(offline), { timeoutMs: 20_000, what: `the offline message in the output (stderr: ${stderr})` });
    const live = await env.send([user], { text: 'live' });
    await waitFor(() => stdout.includes(live), { what: 'the live message in the output' });
    await waitFor(async () => (await env.inbox(user)).length === 0, { what: 'the example to acknowledge both' });
    expect(stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([
      { id: offline, category: null, payload: { text: 'waiting for you' } },
      { id: live, category: null, payload: { text: 'live' } },
    ]);
    expect(stderr).toContain(`connected as ${user}`);
  } finally {
    child.kill('SIGINT');
  }
  expect(await exited).toBe(0);
  expect(stderr).toContain('closed');
});
