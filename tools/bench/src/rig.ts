/**
 * The one rig every scenario runs on, on loopback only, built on the shared launcher of
 * @herald/testing: a private redis-server, a private Pub/Sub emulator (Google's where installed)
 * and ingest started on first use, gateways, exposure-consumers and the raw `ws` baseline started
 * on demand, and the bench's worker processes (workers/protocol.ts). Every app runs with the node
 * flags its image sets (`ENV NODE_OPTIONS` in apps/<app>/Dockerfile), so the figures are those of
 * what ships, plus HERALD_BENCH_APP_ENV / HERALD_BENCH_APP_NODE_FLAGS. Everything it started is
 * stopped by `stop()`, latest first, each step even if another fails.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { PubSub } from '@google-cloud/pubsub';
import { createPubSub } from '@herald/pubsub';
import { closeRedis, createRedis, type HeraldRedis } from '@herald/redis';
import {
  REPO_ROOT,
  signToken,
  startApp as startAppProcess,
  startPubSub,
  startRedisServer,
  stopProcess,
  type AppName,
  type AppProcess,
  type RedisServer,
  type RunningPubSub,
} from '@herald/testing';
import { Scope } from '@herald/types';
import { findPids, processTree, withCommand } from './procs';
import type { Answer } from './workers/protocol';

export type { AppProcess };

/** Node flags an app runs with in production: the NODE_OPTIONS its image sets. */
export function productionNodeFlags(name: AppName): string[] {
  const dockerfile = readFileSync(join(REPO_ROOT, 'apps', name, 'Dockerfile'), 'utf8');
  const value = /^ENV NODE_OPTIONS=(?:"([^"]*)"|(\S+))\s*$/m.exec(dockerfile);
  return (value?.[1] ?? value?.[2] ?? '').split(/\s+/).filter(Boolean);
}

/** Extra node flags for every app, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` (docs/BENCHMARKS.md, "Profiling"). */
export const APP_NODE_FLAGS: string[] = (process.env.HERALD_BENCH_APP_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);

/** Config for every app as `NAME=value` words; wins over the scenario's own settings. */
export const APP_ENV_OVERRIDES: Record<string, string> = parseOverrides(process.env.HERALD_BENCH_APP_ENV ?? '');

export function parseOverrides(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const eq = word.indexOf('=');
    if (eq <= 0) throw new Error(`HERALD_BENCH_APP_ENV: "${word}" is not NAME=value`);
    env[word.slice(0, eq)] = word.slice(eq + 1);
  }
  return env;
}

/**
 * Gateway settings the scenarios with thousands of clients change from the product defaults:
 * connecting 20k clients at the default 2000 upgrades/s would spend the round in 503-and-retry.
 */
export const FAST_ACCEPT: Readonly<Record<string, string>> = Object.freeze({ WS_ACCEPT_RATE: '1000000' });

/** A worker process (workers/*.ts) driven over IPC. */
export interface Worker {
  pid: number;
  /** Resolves with the worker's answer; rejects with its error, its exit, or after `timeoutMs`. */
  request<T = unknown>(body: unknown, timeoutMs?: number): Promise<T>;
  stop(): Promise<unknown>;
}

export interface Rig {
  /** The run's signal (Ctrl-C). */
  signal: AbortSignal;
  redis: RedisServer;
  /** A commands connection of the bench's own (Herald's scripts defined, auto-pipelined). */
  commands: HeraldRedis;
  /** The emulator and a Pub/Sub client of the bench's own on it, started on first use. */
  pubsub(): Promise<{ emulator: RunningPubSub; client: PubSub }>;
  /** The ingest process, started on first use. */
  ingest(): Promise<AppProcess>;
  startApp(name: AppName, env: Record<string, string>): Promise<AppProcess>;
  /** A gateway publishing exposures to the emulator, with `env` on top. */
  startGateway(env: Record<string, string>): Promise<AppProcess>;
  startBaseline(): Promise<{ pid: number; wsUrl: string; stop(): Promise<unknown> }>;
  /** Fork workers/<file>.ts; `stop()` ends it (the rig's stop too). */
  fork(file: string, name: string): Worker;
  /** The emulator's processes, for its CPU time (empty before it started or when not found). */
  emulatorPids(): number[];
  /** One token per user, signed in chunks (signing is CPU-bound; this bounds the promises in memory). */
  userTokens(userIds: readonly string[]): Promise<string[]>;
  /** `groups` plus the rig's processes (redis, emulator, the bench itself), for a cpuWindow. */
  cpuGroups(groups: Record<string, number[]>): Record<string, number[]>;
  /** POST /v1/messages to ingest (started on first use) as a producer would; throws unless ingest answers 202. */
  postMessage(body: object): Promise<void>;
  /** Remember how to stop `thing` (stopped by `stop()`, latest first). */
  own<T>(thing: T, stopIt: (t: T) => Promise<unknown>): T;
  stop(): Promise<void>;
}

export async function startRig(signal: AbortSignal, progress: (line: string) => void): Promise<Rig> {
  const secret = `bench-${randomBytes(24).toString('hex')}`;
  const steps: Array<() => Promise<unknown>> = [];
  let stopping: Promise<void> | undefined;
  const own = <T>(thing: T, stopIt: (t: T) => Promise<unknown>): T => (steps.push(() => stopIt(thing)), thing);
  const stop = () =>
    (stopping ??= (async () => {
      const failures: unknown[] = [];
      for (const step of steps.reverse()) await step().catch((err: unknown) => failures.push(err));
      if (failures.length > 0) progress(`stopping the rig: ${failures.map(String).join('; ')}`);
    })());
  try {
    const redis = own(await startRedisServer(), (r) => r.stop());
    progress(`redis-server on ${redis.url}`);
    const commands = own(createRedis({ REDIS_URL: redis.url, REDIS_CLUSTER_NODES: undefined }, 'commands', 'bench'), closeRedis);
    const common = { METADATA_SERVER_DETECTION: 'none', LOG_LEVEL: 'warn', REDIS_URL: redis.url, AUTH_JWT_SECRET: secret };
    let running: RunningPubSub | undefined;
    let pubsub: Promise<{ emulator: RunningPubSub; client: PubSub }> | undefined;
    let ingest: Promise<AppProcess> | undefined;
    const producerToken = await signToken('bench-producer', { secret, scope: Scope.MESSAGES_WRITE });
    const startApp = async (name: AppName, env: Record<string, string>) => {
      signal.throwIfAborted();
      const appEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...common, ...env, ...APP_ENV_OVERRIDES, HOST: '127.0.0.1' };
      const nodeFlags = [...productionNodeFlags(name), ...APP_NODE_FLAGS];
      return own(await startAppProcess({ name, env: appEnv, nodeFlags, signal }), (app) => app.stop());
    };
    const rig: Rig = {
      signal,
      redis,
      commands,
      pubsub: () =>
        (pubsub ??= startPubSub().then((emulator) => {
          running = own(emulator, (p) => p.stop());
          progress(`${emulator.kind} Pub/Sub emulator on ${emulator.emulatorHost}`);
          const client = own(createPubSub({ PUBSUB_PROJECT_ID: emulator.projectId, PUBSUB_EMULATOR_HOST: emulator.emulatorHost }), (c) => c.close());
          return { emulator, client };
        })),
      ingest: () => (ingest ??= startApp('ingest', {})),
      startApp,
      async startGateway(env) {
        const { emulator } = await rig.pubsub();
        return startApp('gateway', { PUBSUB_EMULATOR_HOST: emulator.emulatorHost, PUBSUB_PROJECT_ID: emulator.projectId, ...env });
      },
      async startBaseline() {
        const server = rig.fork('baseline-server', 'baseline server');
        const port = await server.request<number>({ type: 'listen', redisUrl: redis.url });
        return { pid: server.pid, wsUrl: `ws://127.0.0.1:${port}`, stop: () => server.stop() };
      },
      fork: (file, name) => own(forkWorker(join(__dirname, 'workers', `${file}.ts`), name), (w) => w.stop()),
      // Google's emulator is a JVM under a launcher script, found by its port argument; Herald's
      // (started with --port=0) is one of this bench's children.
      emulatorPids: () => {
        if (!running) return [];
        if (running.kind === 'google') return findPids(`--port=${running.emulatorHost.split(':').pop()}`);
        return withCommand(processTree([process.pid]), 'pubsub-emulator');
      },
      async userTokens(userIds) {
        const tokens: string[] = [];
        for (let start = 0; start < userIds.length; start += 5000) {
          signal.throwIfAborted();
          tokens.push(...(await Promise.all(userIds.slice(start, start + 5000).map((id) => signToken(id, { secret })))));
        }
        return tokens;
      },
      cpuGroups: (groups) => ({ ...groups, redis: [redis.process.pid as number], emulator: rig.emulatorPids(), bench: [process.pid] }),
      async postMessage(body) {
        const app = await rig.ingest();
        const res = await fetch(`${app.url}/v1/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${producerToken}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        if (res.status !== 202) throw new Error(`POST /v1/messages answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
        await res.arrayBuffer();
      },
      own,
      stop,
    };
    return rig;
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Fork `file` (which calls `serveRequests`) as `node --import tsx <file>`, with its last output lines kept. */
function forkWorker(file: string, name: string): Worker {
  const child = fork(file, [], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const recent: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => recent.push(line) > 20 && recent.shift());
  }
  const pending = new Map<number, { resolve(body: unknown): void; reject(err: Error): void }>();
  let nextId = 1;
  child.on('message', (answer: Answer) => {
    const waiter = pending.get(answer.id);
    pending.delete(answer.id);
    if (answer.ok) waiter?.resolve(answer.body);
    else waiter?.reject(new Error(`${name}: ${answer.error}`));
  });
  child.once('exit', (code, sig) => {
    process.removeListener('exit', killOnExit);
    const err = new Error(`${name} exited (${sig ?? `code ${code}`}); its last output:\n${recent.join('\n')}`);
    for (const waiter of pending.values()) waiter.reject(err);
    pending.clear();
  });
  return {
    pid: child.pid as number,
    request<T>(body: unknown, timeoutMs = 120_000): Promise<T> {
      if (child.exitCode !== null || child.signalCode !== null || !child.connected) {
        return Promise.reject(new Error(`${name} is not running; its last output:\n${recent.join('\n')}`));
      }
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name} did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
        const settle = <A>(fn: (a: A) => void) => (a: A) => (clearTimeout(timer), fn(a));
        pending.set(id, { resolve: settle((value) => resolve(value as T)), reject: settle(reject) });
        child.send({ id, body });
      });
    },
    stop: () => stopProcess(child, 5000),
  };
}
