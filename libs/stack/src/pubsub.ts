/**
 * A private Pub/Sub emulator for one test run or `npm run dev`: Google's (Java) emulator when it
 * is installed, otherwise Herald's own (tools/pubsub-emulator), each in its own
 * process so fault tests can stop it. Plus the one blessed way to point the
 * @google-cloud/pubsub client at an emulator.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { PubSub, type ClientConfig } from '@google-cloud/pubsub';
import { ensureSubscription, ensureTopic, pubsubClientOptions as heraldPubsubClientOptions } from '@herald/pubsub';
import { REPO_ROOT, RUN_FROM_ENV, type RunFrom } from './app-process';
import { LOOPBACK, stablePort, tcpAccepts } from './ports';
import { atExit } from './process';

export type PubSubKind = 'google' | 'herald';

export interface RunningPubSub {
  kind: PubSubKind;
  /** `host:port` of the emulator. */
  emulatorHost: string;
  projectId: string;
  /**
   * Freeze the emulator (SIGSTOP to its process group): connections stay open and calls hang,
   * as with a Pub/Sub that is unreachable or far too slow. State is kept for resume().
   */
  pause(): void;
  /** Let a paused emulator run again (SIGCONT). */
  resume(): void;
  stop(): Promise<void>;
}

/** Where the Google Cloud SDK's Debian/RPM packages install the emulator launcher. */
export const GOOGLE_PUBSUB_EMULATOR_LAUNCHER = '/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator';
/**
 * The JVM options Google's emulator runs with unless CLOUD_PUBSUB_EMULATOR_OPTS is set (its
 * launcher adds that variable to the JVM's command line; set to '' it keeps the JVM's defaults).
 * C1 only: the emulator lives for a test, a bench round or a dev session on the cores the stack
 * uses, and C2's compiling was most of what it spent there: its CPU a message fell by a fifth to
 * two thirds through the API, by ~45 % in a broadcast, and it starts ~130 ms sooner
 * (docs/BENCHMARKS.md, "The emulator's JIT").
 */
export const GOOGLE_EMULATOR_JVM_OPTS = '-XX:TieredStopAtLevel=1';
export const GOOGLE_EMULATOR_OPTS_ENV = 'CLOUD_PUBSUB_EMULATOR_OPTS';
/** `google` or `herald` forces a backend; unset picks Google's when installed. */
export const PUBSUB_EMULATOR_ENV = 'HERALD_PUBSUB_EMULATOR';
export const DEFAULT_TEST_PROJECT_ID = 'herald-test';

/** The JVM emulator usually starts in ~1 s but can take far longer on a loaded CI box. */
const GOOGLE_START_TIMEOUT_MS = 60_000;
const HERALD_START_TIMEOUT_MS = 30_000;
/** Per-attempt budget of the readiness probe RPC. */
const PROBE_RPC_TIMEOUT_MS = 2_000;
const PROBE_INTERVAL_MS = 100;
/** SIGTERM first; SIGKILL whatever is left after this long. */
const STOP_GRACE_MS = 5_000;
/** How much child output to keep for error messages. */
const MAX_CAPTURED_OUTPUT = 16 * 1024;
const LISTENING_LINE = /pubsub-emulator listening on (\S+)/;

/** Herald's emulator from its sources (tsx) or its bundle (tools/build), as the apps (app-process.ts). */
const HERALD_EMULATOR: Record<RunFrom, string[]> = {
  source: ['--import', 'tsx', path.join(REPO_ROOT, 'tools', 'pubsub-emulator', 'src', 'main.ts')],
  dist: ['--enable-source-maps', path.join(REPO_ROOT, 'dist', 'tools', 'pubsub-emulator', 'main.js')],
};

export function googlePubSubEmulatorInstalled(): boolean {
  return existsSync(GOOGLE_PUBSUB_EMULATOR_LAUNCHER);
}

/** Client options for an emulator at `host:port` (the one way is in @herald/pubsub). */
export function pubsubClientOptions(emulatorHost: string, projectId: string): ClientConfig {
  return heraldPubsubClientOptions({ PUBSUB_PROJECT_ID: projectId, PUBSUB_EMULATOR_HOST: emulatorHost });
}

export { ensureTopic, ensureSubscription };

/** Which backend startPubSub() will use, honouring HERALD_PUBSUB_EMULATOR. */
export function selectPubSubKind(env: NodeJS.ProcessEnv = process.env): PubSubKind {
  const forced = env[PUBSUB_EMULATOR_ENV];
  if (forced === 'google' || forced === 'herald') return forced;
  if (forced) throw new Error(`${PUBSUB_EMULATOR_ENV} must be "google" or "herald", got "${forced}"`);
  return googlePubSubEmulatorInstalled() ? 'google' : 'herald';
}

/**
 * `from`: Herald's emulator from its sources or its bundle (`npm run dev` sets HERALD_RUN_FROM=dist
 * and builds it first); default HERALD_RUN_FROM of this process, else `source`.
 */
export async function startPubSub(
  options: {
    kind?: PubSubKind;
    projectId?: string;
    from?: RunFrom;
    /** Where Google's emulator is to listen (default stablePort; a test gives a taken one first). */
    pickPort?: () => Promise<number>;
  } = {},
): Promise<RunningPubSub> {
  const kind = options.kind ?? selectPubSubKind();
  const projectId = options.projectId ?? DEFAULT_TEST_PROJECT_ID;
  const from = options.from ?? (process.env[RUN_FROM_ENV] === 'dist' ? 'dist' : 'source');
  return kind === 'google' ? startGoogleEmulator(projectId, options.pickPort ?? stablePort) : startHeraldEmulator(projectId, from);
}

/** A child process whose output is kept (bounded) for error messages. */
interface Supervised {
  child: ChildProcess;
  output(): string;
  exited(): boolean;
}

function supervise(child: ChildProcess): Supervised {
  let captured = '';
  const capture = (chunk: Buffer): void => {
    captured = (captured + chunk.toString()).slice(-MAX_CAPTURED_OUTPUT);
  };
  child.stdout?.on('data', capture);
  child.stderr?.on('data', capture);
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });
  return {
    child,
    output: () => (spawnError ? `${spawnError.message}\n${captured}` : captured),
    exited: () => spawnError !== undefined || child.exitCode !== null || child.signalCode !== null,
  };
}

function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false; // ESRCH: the whole group is gone already.
  }
}

/**
 * Stops a process started with `detached: true` by signalling its whole
 * process group: Google's launcher is a shell script that execs a JVM, and
 * anything it forks must die with it. A process-exit hook kills the group too,
 * so a crashed test run does not leave emulators behind.
 */
function groupStopper(child: ChildProcess): () => Promise<void> {
  const pid = child.pid as number;
  const unhook = atExit(() => signalGroup(pid, 'SIGKILL'));
  let stopping: Promise<void> | undefined;
  return () =>
    (stopping ??= (async () => {
      unhook();
      const exited = new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.once('exit', () => resolve());
      });
      signalGroup(pid, 'SIGTERM');
      signalGroup(pid, 'SIGCONT'); // a paused emulator must run to take its SIGTERM
      const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
      signalGroup(pid, 'SIGKILL'); // stragglers the leader left behind
    })());
}

/** pause()/resume() for a process started with `detached: true` (its whole group). */
function pauser(child: ChildProcess): Pick<RunningPubSub, 'pause' | 'resume'> {
  const pid = child.pid as number;
  let unhook: (() => void) | undefined;
  return {
    pause() {
      unhook ??= atExit(() => signalGroup(pid, 'SIGCONT'));
      signalGroup(pid, 'SIGSTOP');
    },
    resume() {
      unhook?.();
      unhook = undefined;
      signalGroup(pid, 'SIGCONT');
    },
  };
}

async function grpcAnswers(emulatorHost: string, projectId: string): Promise<boolean> {
  const client = new PubSub(pubsubClientOptions(emulatorHost, projectId));
  try {
    await client.getTopics({ gaxOpts: { timeout: PROBE_RPC_TIMEOUT_MS, retry: null } });
    return true;
  } catch {
    return false;
  } finally {
    await client.close();
  }
}

/** What Google's emulator prints once its server is up (`… INFO: Server started, listening on 8085`). */
const GOOGLE_STARTED_LINE = /Server started, listening on (\d+)/g;

/** Whether Google's emulator said it listens on `port`. */
export function listensOn(output: string, port: number): boolean {
  for (const match of output.matchAll(GOOGLE_STARTED_LINE)) if (Number(match[1]) === port) return true;
  return false;
}

/** The port was taken between the pick and the emulator's bind. */
class PortTaken extends Error {}

/**
 * Ports tried at most. The JVM binds seconds after the port is picked, and meanwhile another
 * process may take it (seen in CI: BindException on a port in the kernel's ephemeral range, taken by
 * some test's outgoing connection); the port comes from below that range (stablePort), and a taken
 * one is replaced by another.
 */
const GOOGLE_PORT_ATTEMPTS = 3;

async function startGoogleEmulator(projectId: string, pickPort: () => Promise<number>): Promise<RunningPubSub> {
  if (!googlePubSubEmulatorInstalled()) {
    throw new Error(
      `Google's Pub/Sub emulator was requested but ${GOOGLE_PUBSUB_EMULATOR_LAUNCHER} does not exist ` +
        `(install google-cloud-cli-pubsub-emulator, or set ${PUBSUB_EMULATOR_ENV}=herald)`,
    );
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await startGoogleEmulatorOn(await pickPort(), projectId);
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt >= GOOGLE_PORT_ATTEMPTS) throw err;
    }
  }
}

async function startGoogleEmulatorOn(port: number, projectId: string): Promise<RunningPubSub> {
  const emulatorHost = `${LOOPBACK}:${port}`;
  const child = spawn(GOOGLE_PUBSUB_EMULATOR_LAUNCHER, [`--host=${LOOPBACK}`, `--port=${port}`], {
    env: { ...process.env, [GOOGLE_EMULATOR_OPTS_ENV]: process.env[GOOGLE_EMULATOR_OPTS_ENV] ?? GOOGLE_EMULATOR_JVM_OPTS },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = supervise(child);
  const stop = groupStopper(child);
  try {
    await pollUntil(
      async () => {
        if (/BindException|Address already in use/.test(proc.output())) {
          throw new PortTaken(`Google's Pub/Sub emulator failed to start on port ${port}: the port was taken`);
        }
        if (proc.exited()) throw new Error(`Google's Pub/Sub emulator failed to start on port ${port}`);
        // Its own line first: another process's gRPC server on the port would answer the probe too.
        return listensOn(proc.output(), port) && (await tcpAccepts(LOOPBACK, port)) && (await grpcAnswers(emulatorHost, projectId));
      },
      GOOGLE_START_TIMEOUT_MS,
      `Google's Pub/Sub emulator on ${emulatorHost}`,
    );
  } catch (err) {
    await stop();
    const Failure = err instanceof PortTaken ? PortTaken : Error;
    throw new Failure(`${(err as Error).message}\n--- emulator output ---\n${proc.output()}`);
  }
  return { kind: 'google', emulatorHost, projectId, stop, ...pauser(child) };
}

/**
 * Herald's emulator as a child process on port 0: it reports the port it got
 * in its "listening" line, so there is no race for a pre-picked free port.
 */
async function startHeraldEmulator(projectId: string, from: RunFrom): Promise<RunningPubSub> {
  const child = spawn(process.execPath, [...HERALD_EMULATOR[from], `--host=${LOOPBACK}`, '--port=0'], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = supervise(child);
  const stop = groupStopper(child);
  try {
    const emulatorHost = await pollUntil(
      () => {
        const match = LISTENING_LINE.exec(proc.output());
        if (match) return match[1];
        if (proc.exited()) throw new Error(`Herald's Pub/Sub emulator exited during startup`);
        return undefined;
      },
      HERALD_START_TIMEOUT_MS,
      "Herald's Pub/Sub emulator",
    );
    return { kind: 'herald', emulatorHost, projectId, stop, ...pauser(child) };
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n--- emulator output ---\n${proc.output()}`);
  }
}

/**
 * Polls `check` until it returns a truthy value or the deadline passes. Unlike
 * waitFor() (which retries through errors), an error thrown by `check` aborts at
 * once: a crashed emulator will not come back by waiting.
 */
async function pollUntil<T>(check: () => T | false | undefined | Promise<T | false | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
  }
}
