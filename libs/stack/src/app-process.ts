/**
 * One Herald app as a child process from the repository root, ready when its /readyz answers 200:
 * from its bundle (`node --enable-source-maps dist/apps/<app>/main.js`, as the images run it; built
 * by tools/build) or from its TypeScript sources (`node --import tsx apps/<app>/src/main.ts`, no
 * build needed), see `from`. Its last output lines are kept to explain a failure; each line also
 * goes to `onLine` when given. Used by the dev launcher, the end-to-end and fault tests, and the
 * benchmarks.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { consumerSchema, gatewaySchema, ingestSchema } from '@herald/config';
import { freePort, LOOPBACK } from './ports';
import { atExit, stopProcess } from './process';

export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

export type AppName = 'gateway' | 'ingest' | 'exposure-consumer';

export interface AppProcess {
  name: AppName;
  /** http://<host>:<port> */
  url: string;
  /**
   * Where its /metrics and detailed /readyz are: the admin port (ADMIN_PORT) for an app that has
   * one (the gateway), else `url`. Read metrics here, never from `url`.
   */
  adminUrl: string;
  pid: number;
  child: ReturnType<typeof spawn>;
  /** The last lines it printed. */
  recentOutput(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null when killed). */
  stop(graceMs?: number): Promise<number | null>;
}

export interface StartAppOptions {
  name: AppName;
  /** The environment the app gets, as given (PORT is set from `port`). */
  env: NodeJS.ProcessEnv;
  /** Default: a free port. */
  port?: number;
  /** ADMIN_PORT, for an app that has one. Default: a free port. */
  adminPort?: number;
  /** Node flags before the program (e.g. the image's NODE_OPTIONS, profiling flags). */
  nodeFlags?: readonly string[];
  /**
   * `dist`: the app's bundle, which must have been built (`npx nx run-many -t build`);
   * `source`: its TypeScript through tsx. `npm run dev` builds and sets HERALD_RUN_FROM=dist; the
   * tests run the sources (no build step), and tools/build/test/build.spec.ts starts each bundle.
   * @default env.HERALD_RUN_FROM, else `source`
   */
  from?: RunFrom;
  /** Receives each output line (the dev launcher prints them). */
  onLine?: (name: AppName, line: string) => void;
  /** @default 60000 */
  readyTimeoutMs?: number;
  signal?: AbortSignal;
}

/** Output lines kept to explain a failed start. */
const RECENT_LINES = 30;
const READY_POLL_MS = 100;
/** Apps whose config has ADMIN_PORT serve /metrics there, not on PORT. */
const HAS_ADMIN_PORT: Record<AppName, boolean> = {
  gateway: 'ADMIN_PORT' in gatewaySchema,
  ingest: 'ADMIN_PORT' in ingestSchema,
  'exposure-consumer': 'ADMIN_PORT' in consumerSchema,
};

/** What the dev launcher and tests run: `dist` (the bundles) or `source` (TypeScript through tsx). */
export type RunFrom = 'source' | 'dist';
/** Chooses `from` for every app a stack starts (read from the env given to startApp). */
export const RUN_FROM_ENV = 'HERALD_RUN_FROM';

/** The node arguments that run `name` from its bundle or its sources. */
export function appCommand(name: AppName, from: RunFrom): string[] {
  if (from === 'source') return ['--import', 'tsx', join(REPO_ROOT, 'apps', name, 'src', 'main.ts')];
  const bundle = join(REPO_ROOT, 'dist', 'apps', name, 'main.js');
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: build it with \`npx nx run ${name}:build\` (or set ${RUN_FROM_ENV}=source)`);
  return ['--enable-source-maps', bundle];
}

/**
 * The node flags `name` runs with in production, from its stage in the root Dockerfile: its
 * NODE_OPTIONS, and the flags its CMD puts between `--enable-source-maps` and the bundle (V8 flags
 * NODE_OPTIONS refuses). The benchmarks and tools/build's start-time run the apps with them, so
 * they measure what ships.
 */
export function productionNodeFlags(name: AppName, dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8')): string[] {
  const stage = dockerfile.split(/^FROM /m).find((s) => s.startsWith(`runtime AS ${name}\n`));
  if (stage === undefined) throw new Error(`the root Dockerfile has no "FROM runtime AS ${name}" stage`);
  const value = /^ENV NODE_OPTIONS=(?:"([^"]*)"|(\S+))\s*$/m.exec(stage);
  const options = (value?.[1] ?? value?.[2] ?? '').split(/\s+/).filter(Boolean);
  const cmd = /^CMD (\[.*\])\s*$/m.exec(stage);
  const command = cmd ? (JSON.parse(cmd[1]) as string[]) : [];
  return [...options, ...command.slice(2, -1)];
}

function runFrom(opts: StartAppOptions): RunFrom {
  const from = opts.from ?? opts.env[RUN_FROM_ENV] ?? 'source';
  if (from !== 'source' && from !== 'dist') throw new Error(`${RUN_FROM_ENV} must be "source" or "dist", got "${from}"`);
  return from;
}

export async function startApp(opts: StartAppOptions): Promise<AppProcess> {
  const command = appCommand(opts.name, runFrom(opts));
  const port = opts.port ?? (await freePort());
  const adminPort = HAS_ADMIN_PORT[opts.name] ? (opts.adminPort ?? (await freePort())) : undefined;
  const child = spawn(process.execPath, [...(opts.nodeFlags ?? []), ...command], {
    cwd: REPO_ROOT,
    env: { ...opts.env, PORT: String(port), ...(adminPort === undefined ? {} : { ADMIN_PORT: String(adminPort) }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A test or bench that dies must not leave apps behind.
  child.once('exit', atExit(() => child.kill('SIGKILL')));
  const recent: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      recent.push(line);
      if (recent.length > RECENT_LINES) recent.shift();
      opts.onLine?.(opts.name, line);
    });
  }
  const host = opts.env.HOST && opts.env.HOST !== '0.0.0.0' ? opts.env.HOST : LOOPBACK;
  const app: AppProcess = {
    name: opts.name,
    url: `http://${host}:${port}`,
    adminUrl: `http://${host}:${adminPort ?? port}`,
    pid: child.pid as number,
    child,
    recentOutput: () => recent.join('\n'),
    stop: (graceMs = 15_000) => stopProcess(child, graceMs),
  };
  const failure = (what: string) => new Error(`${opts.name} ${what}; its last output:\n${app.recentOutput()}`);
  const timeoutMs = opts.readyTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      opts.signal?.throwIfAborted();
      if (child.exitCode !== null) throw failure(`exited with code ${child.exitCode} before it was ready`);
      try {
        if ((await fetch(`${app.url}/readyz`)).status === 200) return app;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw failure(`was not ready at ${app.url}/readyz in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, READY_POLL_MS));
    }
  } catch (err) {
    await app.stop(1000);
    throw err;
  }
}
