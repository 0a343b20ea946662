/**
 * What the CLI tests run against and with: the whole stack as processes (as `npm run dev` starts
 * it, with a generated dev secret), and the real `herald` binary as a child process.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEV_SECRET_PREFIX } from '@herald/config';
import { freePort, startTestStack, type Stack } from '@herald/testing';

export const REPO_ROOT = join(__dirname, '..', '..', '..', '..');
export const HERALD_BIN = join(REPO_ROOT, 'tools', 'cli', 'bin', 'herald.js');

export interface CliStack {
  stack: Stack;
  devSecret: string;
  /** The port `herald webhooks listen` may use: ingest's dispatcher is on, and 127.0.0.1:<it> allow-listed. */
  webhookPort: number;
  /** The CLI's environment for this stack: every address, and the dev secret. */
  cliEnv: Record<string, string>;
  stop(): Promise<void>;
}

/** `withoutConsumer`: no exposure-consumer and no Postgres, for tests of sending only. */
export async function startCliStack(opts: { withoutConsumer?: boolean } = {}): Promise<CliStack> {
  // Postgres runs as its own user: the data dir's parent must be traversable by it.
  const dataParent = mkdtempSync(join(tmpdir(), 'herald-cli-'));
  chmodSync(dataParent, 0o755);
  const devSecret = `${DEV_SECRET_PREFIX}${randomBytes(24).toString('hex')}`;
  const webhookPort = await freePort();
  const { stack } = await startTestStack({
    WEBHOOK_DISPATCHER: 'true',
    WEBHOOK_ALLOWED_HOSTS: `127.0.0.1:${webhookPort}`,
    WEBHOOK_BATCH_WINDOW_MS: '100',
    WEBHOOK_REFRESH_MS: '100',
    AUTH_JWT_SECRET: devSecret,
    EMBEDDED_PG_DIR: join(dataParent, 'pg'),
    EMBEDDED_PG_PORT: String(await freePort()),
    EXPOSURE_TOPIC: `exposures-cli-${process.pid}`,
    EXPOSURE_SUBSCRIPTION: `exposures-cli-${process.pid}-consumer`,
  }, opts);
  return {
    stack,
    devSecret,
    webhookPort,
    cliEnv: {
      HERALD_GATEWAY_URL: `${stack.apps.gateway.url.replace(/^http/, 'ws')}/ws`,
      HERALD_INGEST_URL: stack.apps.ingest.url,
      ...(opts.withoutConsumer ? {} : { HERALD_CONSUMER_URL: stack.apps['exposure-consumer'].url }),
      REDIS_URL: stack.env.REDIS_URL as string,
      HERALD_DEV_SECRET: devSecret,
    },
    async stop() {
      await stack.stop();
      rmSync(dataParent, { recursive: true, force: true });
    },
  };
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** The whole environment of the process besides PATH and HOME. */
  env: Record<string, string | undefined>;
  /** Written to stdin, which is then closed; without it stdin is empty. */
  input?: string;
  timeoutMs?: number;
}

/**
 * An `npm run dev` state directory that holds nothing: the CLI under test must not pick up the
 * dev.json of a stack a developer runs in this checkout.
 */
const NO_DEV_STACK = join(tmpdir(), `herald-cli-no-dev-stack-${process.pid}`);

/** Start `herald …` (the package.json bin) as a child process. */
export function spawnHerald(args: string[], env: Record<string, string | undefined>): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [HERALD_BIN, ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, HERALD_DEV_DIR: NO_DEV_STACK, ...env },
  });
}

/** Run `herald …` to its end; resolves with its exit code and output. */
export function herald(args: string[], opts: RunOptions): Promise<CliRun> {
  const child = spawnHerald(args, opts.env);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin.end(opts.input ?? '');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`herald ${args.join(' ')} did not exit in ${opts.timeoutMs ?? 20_000} ms; stderr: ${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    // 'close' comes once the process has exited and its output has been read to the end.
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
