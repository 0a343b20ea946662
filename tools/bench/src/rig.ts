/**
 * The one rig every scenario runs on, on loopback (@herald/testing's launcher): a private
 * redis-server, Pub/Sub emulator and ingest on first use; apps with their image's node flags
 * (plus HERALD_BENCH_APP_*: README.md), the baseline and the worker processes on demand.
 */
import { fork } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { PubSub } from '@google-cloud/pubsub';
import { createPubSub, ensureTopic } from '@herald/pubsub';
import { closeRedis, createRedis, type HeraldRedis } from '@herald/redis';
import { atExit, productionNodeFlags, REPO_ROOT, signToken, startApp, startPubSub, startRedisServer, stopProcess, type AppName, type AppProcess, type RedisServer, type RunningPubSub } from '@herald/testing';
import { Scope } from '@herald/types';
import { cpuWindow, findPids, processTree, withCommand, type CpuGroup } from './procs';
import type { ScenarioContext } from './scenario';
import type { Answer, OpenLoopReply } from './workers/protocol';
import type { ApiProducerSetup } from './workers/api-producer';
import type { SenderRequest, SenderSetup } from './workers/sender';

export type { AppProcess };

/** HERALD_BENCH_APP_NODE_FLAGS and HERALD_BENCH_APP_ENV (README.md): for every app, over the scenario's own. */
export const APP_NODE_FLAGS = wordsOf(process.env.HERALD_BENCH_APP_NODE_FLAGS);
/**
 * HERALD_BENCH_WORKER_NODE_FLAGS (README.md): for every worker process (the baseline servers, the
 * clients, the senders), so that a peer is profiled the way the apps are.
 */
export const WORKER_NODE_FLAGS = wordsOf(process.env.HERALD_BENCH_WORKER_NODE_FLAGS);
export const APP_ENV_OVERRIDES: Record<string, string> = parseOverrides(process.env.HERALD_BENCH_APP_ENV ?? '');
/**
 * HERALD_BENCH_APP_OUTPUT (README.md): a folder where each app's output lines go, one file per
 * process (`<app>-<n>.log`), e.g. what `--trace-gc-nvp` prints; unset, only the last lines are kept.
 */
export const APP_OUTPUT_DIR = process.env.HERALD_BENCH_APP_OUTPUT || undefined;
let appOutputs = 0;

/**
 * Where one app's output lines go besides its last lines: appended to a file of its own in `dir`,
 * numbered in start order (none when `dir` is unset). Written as they come, so a process that is
 * killed leaves every line it printed.
 */
export function appOutputTo(dir: string | undefined): ((name: AppName, line: string) => void) | undefined {
  if (dir === undefined) return undefined;
  mkdirSync(dir, { recursive: true });
  const n = ++appOutputs;
  return (name, line) => appendFileSync(join(dir, `${name}-${n}.log`), `${line}\n`);
}

/** The whitespace-separated words of a setting (none when unset). */
function wordsOf(value: string | undefined): string[] {
  return (value ?? '').split(/\s+/).filter(Boolean);
}

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

export const wsUrlOf = (gateway: AppProcess): string => `${gateway.url.replace(/^http/, 'ws')}/ws`;

export const userIdsFor = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

/** A worker process (workers/*.ts) driven over IPC; `request` rejects with its error, its exit, or after `timeoutMs`. */
export type Worker = { pid: number; request<T = unknown>(body: unknown, timeoutMs?: number): Promise<T>; stop(): Promise<unknown> };

export class Rig {
  private readonly steps: Array<() => Promise<unknown>> = [];
  private running?: RunningPubSub;
  private pubsubStarted?: Promise<{ emulator: RunningPubSub; client: PubSub }>;
  private ingestStarted?: Promise<AppProcess>;
  /** The topic ingest's event relay publishes to (ingest()). */
  private ingestTopic?: string;
  private readonly secret = `bench-${randomBytes(24).toString('hex')}`;
  /** The rig's redis-server, and the bench's own commands connection. */
  redis!: RedisServer;
  commands!: HeraldRedis;
  /** A producer's bearer token (scope messages:write), as ingest's clients send it. */
  producerToken = '';

  /** `signal`: the run's (Ctrl-C). */
  private constructor(readonly signal: AbortSignal, private readonly progress: (line: string) => void, private readonly parameter: ScenarioContext['parameter']) {}

  /**
   * Run `body` on a rig of its own, stopped however it ends (a scenario needs no `finally`);
   * `runTag` keeps this round's names (users, topics) apart from any other's.
   */
  static async run<T>(ctx: ScenarioContext, body: (rig: Rig, runTag: string) => Promise<T>): Promise<T> {
    const rig = new Rig(ctx.signal, ctx.progress, ctx.parameter);
    try {
      rig.redis = rig.own(await startRedisServer(), (r) => r.stop());
      ctx.progress(`redis-server on ${rig.redis.url}`);
      rig.commands = rig.own(createRedis({ REDIS_URL: rig.redis.url, REDIS_CLUSTER_NODES: undefined }, 'commands', 'bench'), closeRedis);
      rig.producerToken = await signToken('bench-producer', { secret: rig.secret, scope: Scope.MESSAGES_WRITE });
      return await body(rig, `r${ctx.round}${randomBytes(2).toString('hex')}`);
    } finally {
      await rig.stop();
    }
  }

  /** Remember how to stop `thing` when the rig stops (stopping it earlier as well is fine). */
  own<T>(thing: T, stopIt: (t: T) => Promise<unknown>): T {
    this.steps.push(() => stopIt(thing));
    return thing;
  }

  /** Latest first, each step even if another fails. */
  private async stop(): Promise<void> {
    const failures: unknown[] = [];
    for (const step of this.steps.reverse()) await step().catch((err: unknown) => failures.push(err));
    if (failures.length > 0) this.progress(`stopping the rig: ${failures.map(String).join('; ')}`);
  }

  /** The emulator and a Pub/Sub client on it, started on first use (parameter `pubsubEmulator`: which one). */
  pubsub(): Promise<{ emulator: RunningPubSub; client: PubSub }> {
    return (this.pubsubStarted ??= startPubSub().then((emulator) => {
      this.running = this.own(emulator, (p) => p.stop());
      this.progress(`${emulator.kind} Pub/Sub emulator on ${emulator.emulatorHost}`);
      this.parameter('pubsubEmulator', emulator.kind);
      const client = this.own(createPubSub({ PUBSUB_PROJECT_ID: emulator.projectId, PUBSUB_EMULATOR_HOST: emulator.emulatorHost }), (c) => c.close());
      return { emulator, client };
    }));
  }

  /**
   * Ingest on the rig's Redis and emulator, started on first use. Its event relay publishes the
   * messages' lifecycle events to `eventsTopic`, created here first: a scenario with a gateway
   * gives its exposure topic, as `npm run dev` runs them (one topic, the consumer stores both).
   * Without one, a topic of the rig's own. Later calls get the same process; asking it for
   * another topic then is an error. (Until 2026-12-05 ingest was started without a topic: its
   * relay published to one that did not exist, failed and backed off, so the API scenarios
   * measured ingest without the relay's work: docs/BENCHMARKS.md, "Ingest's events, published".)
   */
  ingest(eventsTopic?: string): Promise<AppProcess> {
    if (eventsTopic !== undefined && this.ingestTopic !== undefined && eventsTopic !== this.ingestTopic) {
      throw new Error(`ingest already relays its events to ${this.ingestTopic}, not ${eventsTopic}`);
    }
    const topic = (this.ingestTopic ??= eventsTopic ?? `bench-events-${randomBytes(3).toString('hex')}`);
    return (this.ingestStarted ??= this.pubsub().then(async ({ emulator, client }) => {
      await ensureTopic(client, topic);
      return this.startApp('ingest', { PUBSUB_EMULATOR_HOST: emulator.emulatorHost, PUBSUB_PROJECT_ID: emulator.projectId, EXPOSURE_TOPIC: topic });
    }));
  }

  async startApp(name: AppName, env: Record<string, string>): Promise<AppProcess> {
    this.signal.throwIfAborted();
    const common = { METADATA_SERVER_DETECTION: 'none', LOG_LEVEL: 'warn', REDIS_URL: this.redis.url, AUTH_JWT_SECRET: this.secret };
    const appEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...common, ...env, ...APP_ENV_OVERRIDES, HOST: '127.0.0.1' };
    const nodeFlags = [...productionNodeFlags(name), ...APP_NODE_FLAGS];
    return this.own(await startApp({ name, env: appEnv, nodeFlags, signal: this.signal, onLine: appOutputTo(APP_OUTPUT_DIR) }), (app) => app.stop());
  }

  async startGateway(env: Record<string, string>): Promise<AppProcess> {
    const { emulator } = await this.pubsub();
    return this.startApp('gateway', { PUBSUB_EMULATOR_HOST: emulator.emulatorHost, PUBSUB_PROJECT_ID: emulator.projectId, ...env });
  }

  /**
   * A baseline server on the rig's Redis: the raw `ws` one (workers/baseline-server.ts; with
   * `acks` it reads the clients' acks, and `acksRead` says how many ids) or Socket.IO's (socketio-server.ts).
   */
  async startBaseline(
    file: 'baseline-server' | 'socketio-server' = 'baseline-server',
    { acks = false } = {},
  ): Promise<{ pid: number; wsUrl: string; stop(): Promise<unknown>; acksRead?(): Promise<number> }> {
    const server = this.fork(file, file.replace('-', ' '));
    const port = await server.request<number>({ type: 'listen', redisUrl: this.redis.url, ...(acks && { acks }) });
    const acksRead = acks ? () => server.request<number>({ type: 'acks' }) : undefined;
    return { pid: server.pid, wsUrl: `ws://127.0.0.1:${port}`, stop: () => server.stop(), ...(acksRead && { acksRead }) };
  }

  /** An open-loop sender process (workers/sender.ts, or api-producer.ts); `run` says on the progress line when sends failed. */
  async startSender(name: string, setup: SenderSetup | ApiProducerSetup, file: 'sender' | 'api-producer' = 'sender') {
    const sender = this.fork(file, name);
    await sender.request(setup);
    const run = async (rate: number, seconds: number) => {
      const reply = await sender.request<OpenLoopReply>({ type: 'run', rate, seconds } satisfies SenderRequest, (seconds + 120) * 1000);
      if (reply.failed > 0) this.progress(`${name}: ${reply.failed} sends failed, the first: ${reply.firstError}`);
      return reply;
    };
    return { pid: sender.pid, run, stop: () => sender.stop() };
  }

  fork(file: string, name: string): Worker {
    return this.own(forkWorker(join(__dirname, 'workers', `${file}.ts`), name), (w) => w.stop());
  }

  /** The emulator's processes: Google's JVM found by its port argument, Herald's (--port=0) among the bench's children. */
  emulatorPids(): number[] {
    if (!this.running) return [];
    if (this.running.kind === 'google') return findPids(`--port=${this.running.emulatorHost.split(':').pop()}`);
    return withCommand(processTree([process.pid]), 'pubsub-emulator');
  }

  /** `fn` of every item, `chunk` at a time (bounding the promises in memory). */
  async inChunks<T, R>(items: readonly T[], chunk: number, fn: (item: T) => Promise<R>): Promise<R[]> {
    const results: R[] = [];
    for (let start = 0; start < items.length; start += chunk) {
      this.signal.throwIfAborted();
      results.push(...(await Promise.all(items.slice(start, start + chunk).map(fn))));
    }
    return results;
  }

  userTokens(userIds: readonly string[]): Promise<string[]> {
    return this.inChunks(userIds, 5000, (id) => signToken(id, { secret: this.secret }));
  }

  /** A CPU window over `groups` plus redis, the emulator and the bench itself. */
  cpuWindow(groups: Record<string, CpuGroup>): ReturnType<typeof cpuWindow> {
    return cpuWindow({ ...groups, redis: [this.redis.process.pid as number], emulator: this.emulatorPids(), bench: [process.pid] });
  }

  /** POST /v1/messages to ingest as a producer would; throws unless 202. */
  async postMessage(body: object): Promise<void> {
    const res = await fetch(`${(await this.ingest()).url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.producerToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status !== 202) throw new Error(`POST /v1/messages answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    await res.arrayBuffer();
  }
}

/** `node --import tsx <file>`, its last output lines kept to explain a failure. */
function forkWorker(file: string, name: string): Worker {
  const child = fork(file, [], { cwd: REPO_ROOT, execArgv: ['--import', 'tsx', ...WORKER_NODE_FLAGS], env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }, stdio: 'pipe' });
  const unhook = atExit(() => child.kill('SIGKILL'));
  const recent: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) createInterface({ input: stream }).on('line', (line) => recent.push(line) > 20 && recent.shift());
  const failure = (what: string) => new Error(`${name} ${what}; its last output:\n${recent.join('\n')}`);
  const pending = new Map<number, (answer: Answer | Error) => void>();
  let nextId = 1;
  child.on('message', (answer: Answer) => pending.get(answer.id)?.(answer));
  child.once('exit', (code, sig) => {
    unhook();
    for (const settle of pending.values()) settle(failure(`exited (${sig ?? `code ${code}`})`));
  });
  return {
    pid: child.pid as number,
    request<T>(body: unknown, timeoutMs = 120_000): Promise<T> {
      if (child.exitCode !== null || child.signalCode !== null || !child.connected) return Promise.reject(failure('is not running'));
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const settle = (answer: Answer | Error) => {
          clearTimeout(timer);
          pending.delete(id);
          if (answer instanceof Error) reject(answer);
          else if (answer.ok) resolve(answer.body as T);
          else reject(new Error(`${name}: ${answer.error}`));
        };
        const timer = setTimeout(() => settle(new Error(`${name} did not answer within ${timeoutMs} ms`)), timeoutMs);
        pending.set(id, settle);
        child.send({ id, body });
      });
    },
    stop: () => stopProcess(child, 5000),
  };
}
