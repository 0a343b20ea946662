/**
 * The `herald` binary against a real stack (gateway, ingest, exposure-consumer as processes, a
 * private Redis, a Pub/Sub emulator, an embedded Postgres) started with a generated dev secret,
 * as `npm run dev` does. What each command claims is checked from the outside: by a WebSocket
 * client, in Redis, or through the HTTP APIs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeRedis, createRedis, keys, loadMessages, readInbox, type HeraldRedis } from '@herald/redis';
import { signToken, TestClient, waitFor } from '@herald/testing';
import type { ExposureEvent, MessageFrame, WelcomeFrame } from '@herald/types';
import { herald, spawnHerald, startCliStack, type CliStack } from './support/cli-stack';

jest.setTimeout(90_000);

let env: CliStack;
let redis: HeraldRedis;

beforeAll(async () => {
  env = await startCliStack();
  redis = createRedis({ REDIS_URL: env.cliEnv.REDIS_URL, REDIS_CLUSTER_NODES: undefined }, 'commands', 'cli-test');
}, 180_000);

afterAll(async () => {
  if (redis) await closeRedis(redis);
  await env?.stop();
}, 60_000);

let seq = 0;
const newUser = (label: string) => `cli-${label}-${process.pid}-${++seq}`;
const run = (args: string[], opts: { input?: string; env?: Record<string, string> } = {}) =>
  herald(args, { env: { ...env.cliEnv, ...opts.env }, input: opts.input });

async function connect(userId: string): Promise<TestClient> {
  const token = await signToken(userId, { secret: env.devSecret });
  const client = await TestClient.connect(env.cliEnv.HERALD_GATEWAY_URL, token);
  await client.waitForFrame('welcome');
  return client;
}

async function sent(args: string[], opts?: { input?: string }): Promise<string> {
  const result = await run(['send', ...args], opts);
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  expect(result.stdout).toMatch(/^[0-9a-f-]{36}\n$/);
  return result.stdout.trim();
}

describe('token', () => {
  it('mints a token the gateway accepts for that user', async () => {
    const user = newUser('token');
    const minted = await run(['token', user]);
    expect(minted.code).toBe(0);
    const client = await TestClient.connect(env.cliEnv.HERALD_GATEWAY_URL, minted.stdout.trim());
    expect(await client.waitForFrame('welcome')).toMatchObject({ userId: user });
    await client.close();
  });
});

describe('send', () => {
  it('sends a payload from an argument, a file and stdin; the user receives all three in order', async () => {
    const user = newUser('send');
    const client = await connect(user);
    const dir = mkdtempSync(join(tmpdir(), 'herald-cli-send-'));
    const file = join(dir, 'payload.json');
    writeFileSync(file, JSON.stringify({ from: 'file', list: [1, 2] }));
    const ids = [
      await sent(['--user', user, '{"from":"argument"}']),
      await sent(['--user', user, '--file', file]),
      await sent(['--user', user], { input: '"from stdin"' }),
    ];
    rmSync(dir, { recursive: true });
    const messages = await client.waitForMessages(3);
    expect(messages.map((m) => [m.id, m.payload])).toEqual([
      [ids[0], { from: 'argument' }],
      [ids[1], { from: 'file', list: [1, 2] }],
      [ids[2], 'from stdin'],
    ]);
    await client.close();
  });

  it('sends to several users at once and to a category, and keeps the ttl', async () => {
    const [a, b] = [newUser('multi'), newUser('multi')];
    const id = await sent(['--user', `${a},${b}`, '--ttl', '120', '{"to":"both"}']);
    expect(await readInbox(redis, a)).toEqual([id]);
    expect(await readInbox(redis, b)).toEqual([id]);
    const ttl = await redis.pttl(keys.message(id));
    expect(ttl).toBeGreaterThan(100_000);
    expect(ttl).toBeLessThanOrEqual(120_000);

    const member = newUser('member');
    expect((await run(['categories', 'set', member, 'cli-news'])).code).toBe(0);
    const client = await connect(member);
    const categoryId = await sent(['--category', 'cli-news', '{"headline":"hi"}']);
    const [message] = await client.waitForMessages(1);
    expect(message).toMatchObject({ id: categoryId, category: 'cli-news', payload: { headline: 'hi' } });
    await client.close();
  });

  it('replays with the same Idempotency-Key instead of sending twice', async () => {
    const user = newUser('idem');
    const key = `cli-key-${process.pid}-${seq}`;
    const first = await run(['send', '--user', user, '--idempotency-key', key, '{"n":1}']);
    const second = await run(['send', '--user', user, '--idempotency-key', key, '{"n":1}']);
    expect(first.code).toBe(0);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    expect(second.stderr).toContain('replayed');
    expect(await readInbox(redis, user)).toEqual([first.stdout.trim()]);
  });

  it('with --replace-key, takes the place of the pending message sent with the same key', async () => {
    const user = newUser('replace');
    const first = await sent(['--user', user, '--replace-key', 'score', '"1-0"']);
    const second = await sent(['--user', user, '--replace-key', 'score', '"2-0"']);
    expect(await readInbox(redis, user)).toEqual([second]);
    expect(first).not.toBe(second);
  });

  it("reports the API's refusal with its code (exit 1) and sends nothing", async () => {
    const user = newUser('refused');
    const userToken = await signToken(user, { secret: env.devSecret });
    const refused = await run(['send', '--user', user, '--token', userToken, '{"n":1}']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^herald send: ingest answered 403 FORBIDDEN: The token lacks the scope/);
    expect(await readInbox(redis, user)).toEqual([]);
  });
});

describe('update and recall', () => {
  it('updates a message a connected user got, then recalls it: the session gets both frames, the offline list loses it', async () => {
    const user = newUser('change');
    const client = await connect(user);
    const id = await sent(['--user', user, '{"v":1}']);
    await client.waitForMessages(1);

    const updated = await run(['update', id, '{"v":2}']);
    expect({ code: updated.code, stderr: updated.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(updated.stdout)).toMatchObject({ id, version: 2, gateways: { confirmed: 1 } });
    expect(await client.waitForFrame('update')).toMatchObject({ id, payload: { v: 2 } });

    const recalled = await run(['recall', id]);
    expect(JSON.parse(recalled.stdout)).toMatchObject({ id, state: 'recalled', removed: 1 });
    expect(await client.waitForFrame('delete')).toEqual({ type: 'delete', id });
    expect(await readInbox(redis, user)).toEqual([]);

    const again = await run(['update', id, '{"v":3}']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^herald update: ingest answered 409 MESSAGE_STATE_CONFLICT/);
    await client.close();
  });
});

describe('send --at, message', () => {
  it('holds a message until its time; herald message shows it scheduled, or sent once its time came', async () => {
    const user = newUser('later');
    const inAnHour = new Date(Date.now() + 3600_000).toISOString();
    const held = await run(['send', '--user', user, '--at', inAnHour, '{"n":"in an hour"}']);
    expect({ code: held.code, stderr: held.stderr }).toEqual({ code: 0, stderr: `scheduled for ${inAnHour}\n` });
    const heldId = held.stdout.trim();
    const shown = await run(['message', heldId]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^id +${heldId}\nstate +scheduled\nto +1 user\\(s\\)\nscheduledFor +${inAnHour}\ncreatedAt +-\n`));

    const soon = new Date(Date.now() + 1000).toISOString();
    const id = (await run(['send', '--user', user, '--at', soon, '{"n":"soon"}'])).stdout.trim();
    await waitFor(async () => (await readInbox(redis, user)).length > 0, { what: 'the scheduled message in the inbox' });
    expect(await readInbox(redis, user)).toEqual([id]);
    const status = JSON.parse((await run(['message', id, '--json'])).stdout) as { state: string; createdAt: string };
    expect(status.state).toBe('sent');
    expect(Date.parse(status.createdAt)).toBeGreaterThanOrEqual(Date.parse(soon));
  });
});

describe('categories', () => {
  it("sets, gets and clears a user's categories through ingest", async () => {
    const user = newUser('cats');
    const set = await run(['categories', 'set', user, 'sports', 'news', 'sports']);
    expect(set).toMatchObject({ code: 0, stdout: 'sports\nnews\n' });
    expect(await run(['categories', 'get', user])).toMatchObject({ code: 0, stdout: 'news\nsports\n' });
    const json = await run(['categories', 'get', user, '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ userId: user, categories: ['news', 'sports'] });
    expect((await run(['categories', 'set', user, '--none'])).code).toBe(0);
    expect(await run(['categories', 'get', user])).toMatchObject({ code: 0, stdout: '' });
  });
});

describe('presence', () => {
  it('shows a connected user online with its session and gateway, an unknown one offline, and prints JSON', async () => {
    const user = newUser('here');
    const nobody = newUser('away');
    const client = await connect(user);
    const { sessionId } = client.frames[0] as WelcomeFrame;
    const table = await run(['presence', user, nobody]);
    expect({ code: table.code, stderr: table.stderr }).toEqual({ code: 0, stderr: '' });
    const rows = table.stdout.trim().split('\n').slice(2).map((line) => line.split(/ +/));
    expect(rows).toEqual([
      [user, 'online', sessionId, expect.any(String), expect.stringMatching(/^\d{4}-\d\d-\d\dT/)],
      [nobody, 'offline', '-', '-', '-'],
    ]);
    const json = JSON.parse((await run(['presence', user, '--json'])).stdout) as { presence: Array<{ sessions: unknown[] }> };
    expect(json.presence[0]).toEqual({ userId: user, online: true, sessions: [{ sessionId, gatewayId: rows[0][3], connectedAt: rows[0][4] }] });
    await client.close();
  });
});

describe('inbox', () => {
  it('shows the offline list with bodies, marks an expired body, and prints JSON', async () => {
    const user = newUser('inbox');
    const kept = await sent(['--user', user, '{"text":"still here"}']);
    const expiring = await sent(['--user', user, '--ttl', '1', '{"text":"gone soon"}']);
    await waitFor(async () => (await loadMessages(redis, [expiring]))[0] === null, { what: 'the 1 s body to expire' });

    const table = await run(['inbox', user]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^#\s+id\s+category\s+created\s+expires\s+payload$/);
    expect(lines[2]).toMatch(new RegExp(`^1\\s+${kept}\\s+\\(direct\\)\\s+\\S+\\s+\\S+\\s+\\{"text":"still here"\\}$`));
    expect(lines[3]).toMatch(new RegExp(`^2\\s+${expiring}\\s+-\\s+-\\s+-\\s+\\(expired\\)$`));
    expect(lines[4]).toBe('2 offline messages, 1 expired');

    const json = await run(['inbox', user, '--json']);
    const entries = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; message: MessageFrame | null });
    expect(entries.map((e) => [e.id, e.message?.payload ?? null])).toEqual([
      [kept, { text: 'still here' }],
      [expiring, null],
    ]);

    expect(await run(['inbox', newUser('empty')])).toMatchObject({ code: 0, stdout: expect.stringContaining('has no offline messages') });
  });
});

describe('tail', () => {
  it('prints the welcome, offline and live messages as JSON lines; without --ack they stay, with --ack they go', async () => {
    const user = newUser('tail');
    const offline = await sent(['--user', user, '{"n":"offline"}']);
    const tail = spawnHerald(['tail', user, '--count', '2'], env.cliEnv);
    let stdout = '';
    let stderr = '';
    tail.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    tail.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => tail.once('close', resolve));
    await waitFor(() => stdout.includes(offline), { timeoutMs: 20_000, what: `tail to print the offline message (stderr: ${stderr})` });
    const live = await sent(['--user', user, '{"n":"live"}']);
    expect(await exited).toBe(0);
    const frames = stdout.trim().split('\n').map((l) => JSON.parse(l) as WelcomeFrame | MessageFrame);
    expect(frames.map((f) => f.type)).toEqual(['welcome', 'message', 'message']);
    expect(frames[0]).toMatchObject({ userId: user });
    expect(frames.slice(1).map((f) => [(f as MessageFrame).id, (f as MessageFrame).payload])).toEqual([
      [offline, { n: 'offline' }],
      [live, { n: 'live' }],
    ]);
    expect(stderr).toContain(`connected to ${env.cliEnv.HERALD_GATEWAY_URL} as ${user}`);
    expect(await readInbox(redis, user)).toEqual([offline, live]);

    const acking = await run(['tail', user, '--count', '2', '--ack']);
    expect(acking.code).toBe(0);
    expect(acking.stdout.trim().split('\n')).toHaveLength(3);
    await waitFor(async () => (await readInbox(redis, user)).length === 0, { what: 'tail --ack to empty the offline list' });
  });

  it('stops on Ctrl-C with exit 0, and fails with exit 1 when the gateway refuses the token', async () => {
    const user = newUser('tail-stop');
    const tail = spawnHerald(['tail', user], env.cliEnv);
    let stdout = '';
    tail.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((resolve) => tail.once('close', resolve));
    await waitFor(() => stdout.includes('"type":"welcome"'), { timeoutMs: 20_000, what: 'the welcome line' });
    tail.kill('SIGINT');
    expect(await exited).toBe(0);

    const refused = await run(['tail', user, '--token', 'not-a-jwt']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('disconnected: HTTP 401');
    expect(refused.stderr).toContain('herald tail: stopped: The gateway refused the token');

    const otherUser = await signToken('someone-else', { secret: env.devSecret });
    const mismatch = await run(['tail', user, '--token', otherUser]);
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toContain(`--token is for user "someone-else", not "${user}"`);
  });
});

describe('exposures', () => {
  it('queries exposures and prints stats as tables, and as JSON', async () => {
    const user = newUser('exposed');
    const ids = [await sent(['--user', user, '{"n":1}']), await sent(['--user', user, '{"n":2}'])];
    const client = await connect(user);
    await client.waitForMessages(2);
    await client.close();
    const analyst = await signToken('cli-test-analyst', { secret: env.devSecret, scope: 'exposures:read' });
    const consumer = env.cliEnv.HERALD_CONSUMER_URL;
    await waitFor(
      async () => {
        const res = await fetch(`${consumer}/v1/exposures?userId=${user}`, { headers: { authorization: `Bearer ${analyst}` } });
        return ((await res.json()) as { items: ExposureEvent[] }).items.length === 2;
      },
      { timeoutMs: 30_000, what: 'two exposures stored' },
    );

    const table = await run(['exposures', '--user', user]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^delivered\s+via\s+user\s+message\s+category\s+session\s+gateway$/);
    // Both pushed in the same millisecond or not: the order between them is not the point here.
    const rows = lines.slice(2, 4).map((l) => l.split(/\s+/).slice(1, 5));
    expect(rows.sort()).toEqual(ids.map((id) => ['offline', user, id, '-']).sort());
    expect(lines[4]).toBe('2 exposures');

    // One event a page: the cursor is printed, and --all follows it.
    const paged = await run(['exposures', '--user', user, '--limit', '1']);
    expect(paged.stdout).toMatch(/1 exposure; more with --cursor \S+ \(or --all\)/);
    const all = await run(['exposures', '--user', user, '--limit', '1', '--all', '--json']);
    const events = all.stdout.trim().split('\n').map((l) => JSON.parse(l) as ExposureEvent);
    expect(events.map((e) => [e.messageId, e.userId, e.via]).sort()).toEqual(ids.map((id) => [id, user, 'offline']).sort());

    const stats = await run(['exposures', 'stats', '--group-by', 'message']);
    expect(stats.code).toBe(0);
    const statLines = stats.stdout.trimEnd().split('\n');
    expect(statLines[0]).toMatch(/^message\s+exposures\s+users$/);
    for (const id of ids) expect(statLines).toContainEqual(expect.stringMatching(new RegExp(`^${id}\\s+1\\s+1$`)));
    const statsJson = JSON.parse((await run(['exposures', 'stats', '--group-by', 'category', '--json'])).stdout) as {
      groupBy: string;
      items: { key: string | null; exposures: number }[];
    };
    expect(statsJson.groupBy).toBe('category');
    expect(statsJson.items.find((i) => i.key === null)?.exposures).toBeGreaterThanOrEqual(2);
  });

  it("reports the consumer's refusal (exit 1)", async () => {
    const producer = await signToken('cli-test-producer', { secret: env.devSecret, scope: 'messages:write' });
    const refused = await run(['exposures', '--token', producer]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^herald exposures: exposure-consumer answered 403 FORBIDDEN: The token lacks the scope/);
  });
});

describe('webhooks', () => {
  it('create, listen, list, delete: a message pushed to a connected user reaches the listener as a verified delivered event', async () => {
    const user = newUser('webhooks');
    const created = await run(['webhooks', 'create', `http://127.0.0.1:${env.webhookPort}/hook`, '--kind', 'delivered', '--json']);
    expect({ code: created.code, stderr: created.stderr }).toEqual({ code: 0, stderr: '' });
    const { id, secret } = JSON.parse(created.stdout) as { id: string; secret: string };
    expect(secret).toMatch(/^whsec_/);

    const listener = spawnHerald(['webhooks', 'listen', '--port', String(env.webhookPort), '--secret', secret], env.cliEnv);
    let stdout = '';
    let stderr = '';
    listener.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    listener.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => listener.once('close', resolve));
    await waitFor(() => stderr.includes('listening on'), { timeoutMs: 20_000, what: `the listener to start (stderr: ${stderr})` });

    const client = await connect(user);
    const messageId = await sent(['--user', user, '{"n":"hook"}']);
    await client.waitForFrame('message');
    await waitFor(() => stdout.includes(messageId), { timeoutMs: 20_000, what: `the delivered event (stderr: ${stderr})` });
    listener.kill('SIGINT');
    expect(await exited).toBe(0);
    await client.close();
    const events = stdout.trim().split('\n').map((l) => JSON.parse(l) as ExposureEvent & { kind: string });
    expect(events.filter((e) => e.messageId === messageId)).toEqual([expect.objectContaining({ kind: 'delivered', messageId, userId: user })]);
    expect(stderr).not.toContain('rejected');

    const listed = await run(['webhooks', 'list', '--json']);
    expect(JSON.parse(listed.stdout).webhooks).toEqual([expect.objectContaining({ id, state: 'active', kinds: ['delivered'] })]);
    expect(await run(['webhooks', 'delete', id])).toEqual({ code: 0, stdout: `${id}\n`, stderr: '' });
    expect(JSON.parse((await run(['webhooks', 'list', '--json'])).stdout)).toEqual({ webhooks: [] });
    const again = await run(['webhooks', 'delete', id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('404 WEBHOOK_NOT_FOUND');
  });
});
