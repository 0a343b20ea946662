/**
 * `herald send --file` in bulk mode (JSON lines through POST /v1/messages/batch) against a real
 * stack (gateway and ingest as processes, a private Redis): what a connected user receives, the
 * per-line results, batches of 500, failed lines and the exit code.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeRedis, createRedis, readInbox, type HeraldRedis } from '@herald/redis';
import { signToken, TestClient } from '@herald/testing';
import { herald, startCliStack, type CliStack } from './support/cli-stack';

jest.setTimeout(90_000);

let env: CliStack;
let redis: HeraldRedis;
let dir: string;

beforeAll(async () => {
  env = await startCliStack({ withoutConsumer: true });
  redis = createRedis({ REDIS_URL: env.cliEnv.REDIS_URL, REDIS_CLUSTER_NODES: undefined }, 'commands', 'cli-send-file-test');
  dir = mkdtempSync(join(tmpdir(), 'herald-cli-lines-'));
}, 180_000);

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (redis) await closeRedis(redis);
  await env?.stop();
}, 60_000);

const run = (args: string[], input?: string) => herald(args, { env: env.cliEnv, input });
const lines = (...bodies: unknown[]) => bodies.map((b) => (typeof b === 'string' ? b : JSON.stringify(b))).join('\n');
const results = (stdout: string) => stdout.trim().split('\n').map((l) => JSON.parse(l) as { line: number; id?: string; error?: { code: string } });

it('sends every line of a file, prints each result, and the connected user gets them in order', async () => {
  const user = `cli-lines-${process.pid}`;
  const client = await TestClient.connect(env.cliEnv.HERALD_GATEWAY_URL, await signToken(user, { secret: env.devSecret }));
  await client.waitForFrame('welcome');
  const file = join(dir, 'messages.jsonl');
  writeFileSync(file, `${lines({ userIds: [user], payload: 1 }, { userIds: [user], payload: { n: 2 }, ttlSeconds: 60 }, '', { userIds: [user], payload: 'three' })}\n`);

  const sent = await run(['send', '--file', file]);
  expect({ code: sent.code, stderr: sent.stderr }).toEqual({ code: 0, stderr: `sent 3 of 3 message(s) from ${file}\n` });
  const out = results(sent.stdout);
  expect(out.map((r) => r.line)).toEqual([1, 2, 4]);
  const messages = await client.waitForMessages(3);
  expect(messages.map((m) => [m.id, m.payload])).toEqual([
    [out[0].id, 1],
    [out[1].id, { n: 2 }],
    [out[2].id, 'three'],
  ]);
  await client.close();
});

it('reads stdin with "-", sends 1,200 lines in batches of 500, and keeps idempotency keys per line', async () => {
  const user = `cli-bulk-${process.pid}`;
  const input = lines(...Array.from({ length: 1200 }, (_, i) => ({ userIds: [user], payload: i, idempotencyKey: `bulk-${i}` })));
  const first = await run(['send', '--file', '-'], input);
  expect(first.code).toBe(0);
  const ids = results(first.stdout).map((r) => r.id);
  expect(ids).toHaveLength(1200);
  const inbox = await readInbox(redis, user);
  // The inbox keeps the newest INBOX_CAP (1000) ids, in the file's order.
  expect(inbox).toEqual(ids.slice(200));

  const again = await run(['send', '--file', '-'], input);
  expect(results(again.stdout).map((r) => r.id)).toEqual(ids);
  expect(await readInbox(redis, user)).toEqual(inbox);
});

it('reports failed lines with their codes, sends the others, and exits 1', async () => {
  const user = `cli-partial-${process.pid}`;
  const input = lines({ userIds: [user], payload: 'ok' }, '{not json', { userIds: ['bad id'], payload: 1 }, { userIds: [user], payload: 'also ok' });
  const res = await run(['send', '--file', '-'], input);
  expect(res.code).toBe(1);
  expect(results(res.stdout).map((r) => [r.line, r.error?.code ?? 'ok'])).toEqual([
    [1, 'ok'],
    [2, 'INVALID_JSON'],
    [3, 'INVALID_USER_ID'],
    [4, 'ok'],
  ]);
  expect(res.stderr).toBe('sent 2 of 4 message(s) from stdin; 2 failed (line 2, 3)\nherald send: 2 of 4 message(s) not sent\n');
  expect(await readInbox(redis, user)).toHaveLength(2);
});

it('refuses a payload argument or a single-message flag in bulk mode (exit 2)', async () => {
  const withArg = await run(['send', '--file', '-', '1'], '');
  expect(withArg.code).toBe(2);
  const withTtl = await run(['send', '--file', '-', '--ttl', '5'], '');
  expect(withTtl.code).toBe(2);
  expect(withTtl.stderr).toContain('in bulk mode put it in each line');
});
