/**
 * `npm run dev` as a developer runs it: the launcher as a process (`node --import tsx
 * tools/dev/src/main.ts`), here with its own state directory (HERALD_DEV_DIR, so a developer's
 * .herald is never touched) and free ports. Checked from the outside: the real `herald` binary
 * finds the stack with no setting at all, and however the launcher ends, nothing it started
 * (redis-server, the Pub/Sub emulator, the embedded Postgres, the apps) outlives it for long, and
 * the next start comes up.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEV_STACK_FILE, type DevStackFile } from '@herald/config';
import { freePort, REPO_ROOT, stablePort, TestClient, waitFor } from '@herald/testing';
import { descendantsOf, isRunning, processId, type ProcessId } from '../src/proc';
import { readRunRecord } from '../src/run-record';

jest.setTimeout(240_000);

const LAUNCHER = join(REPO_ROOT, 'tools', 'dev', 'src', 'main.ts');
const HERALD_BIN = join(REPO_ROOT, 'tools', 'cli', 'bin', 'herald.js');
/** The bound the issue sets: nothing the launcher started outlives it for more than a few seconds. */
const ORPHAN_DEADLINE_MS = 10_000;
const START_TIMEOUT_MS = 150_000;

interface Launcher {
  child: ChildProcess;
  pid: number;
  output(): string;
}

let devDir: string;
let launcherEnv: Record<string, string | undefined>;
/** Every process the launchers were seen running, killed after the file whatever happened. */
const seen = new Map<string, ProcessId>();
let running: Launcher | undefined;

function remember(launcher: Launcher): ProcessId[] {
  const procs = descendantsOf(launcher.pid);
  for (const p of procs) seen.set(`${p.pid}:${p.start}`, p);
  return procs;
}

/** Starts the launcher in its own process group (as a shell starts a job); resolves once it is up. */
async function startLauncher(env: Record<string, string> = {}): Promise<Launcher> {
  const child = spawn(process.execPath, ['--import', 'tsx', LAUNCHER], {
    cwd: REPO_ROOT,
    env: { ...launcherEnv, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const launcher: Launcher = { child, pid: child.pid as number, output: () => out };
  try {
    await waitFor(
      () => {
        if (out.includes('Herald is up')) return true;
        if (child.exitCode !== null || child.signalCode !== null) throw new Error('exited');
        return false;
      },
      { timeoutMs: START_TIMEOUT_MS, intervalMs: 100, what: 'npm run dev to print "Herald is up"' },
    );
  } catch (err) {
    remember(launcher);
    child.kill('SIGKILL');
    throw new Error(`the launcher did not come up (${(err as Error).message}); its output:\n${out.slice(-3000)}`);
  }
  remember(launcher);
  return launcher;
}

function herald(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // No REDIS_URL, no URLs, no secret unless `env` says so: only where this test's launcher keeps its state.
  const child = spawn(process.execPath, [HERALD_BIN, ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, HERALD_DEV_DIR: devDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

/** Waits until none of `procs` runs any more; resolves with how long that took. */
async function allGone(procs: ProcessId[], what: string): Promise<number> {
  const since = Date.now();
  await waitFor(() => procs.every((p) => !isRunning(p)), {
    timeoutMs: ORPHAN_DEADLINE_MS,
    intervalMs: 100,
    what: `${what}; still running: ${procs
      .filter(isRunning)
      .map((p) => `${p.pid} ${p.command.slice(0, 80)}`)
      .join(' | ')}`,
  });
  return Date.now() - since;
}

const named = (procs: ProcessId[], pattern: RegExp) => procs.filter((p) => pattern.test(p.command));

beforeAll(async () => {
  // The embedded Postgres runs as its own user when we are root: the state dir must be traversable.
  devDir = mkdtempSync(join(tmpdir(), 'herald-dev-launcher-'));
  chmodSync(devDir, 0o755);
  launcherEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    METADATA_SERVER_DETECTION: 'none',
    HERALD_PUBSUB_EMULATOR: process.env.HERALD_PUBSUB_EMULATOR,
    LOG_LEVEL: 'warn',
    HERALD_DEV_DIR: devDir,
    HERALD_DEV_GATEWAY_PORT: String(await stablePort()),
    HERALD_DEV_INGEST_PORT: String(await stablePort()),
    HERALD_DEV_CONSUMER_PORT: String(await stablePort()),
    HERALD_DEV_ADMIN_PORT: String(await stablePort()),
    EMBEDDED_PG_PORT: String(await stablePort()),
  };
});

afterAll(async () => {
  if (running && running.child.exitCode === null) running.child.kill('SIGKILL');
  for (const p of seen.values()) if (isRunning(p)) process.kill(p.pid, 'SIGKILL');
  await waitFor(() => [...seen.values()].every((p) => !isRunning(p)), { timeoutMs: 10_000, what: 'cleanup' }).catch(() => undefined);
  rmSync(devDir, { recursive: true, force: true });
}, 30_000);

it('leaves its endpoints in dev.json (0600); `herald send` and `herald inbox demo` use them with no setting', async () => {
  running = await startLauncher();
  const file = join(devDir, 'dev.json');
  expect(existsSync(file)).toBe(true);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  const ids: string[] = [];
  for (const text of ['one', 'two']) {
    const sent = await herald(['send', '--user', 'demo', JSON.stringify({ text })]);
    expect({ code: sent.code, stderr: sent.stderr }).toEqual({ code: 0, stderr: '' });
    ids.push(sent.stdout.trim());
  }
  const inbox = await herald(['inbox', 'demo']);
  expect({ code: inbox.code, stderr: inbox.stderr }).toEqual({ code: 0, stderr: '' });
  expect(inbox.stdout).toContain('2 offline messages');
  for (const id of ids) expect(inbox.stdout).toContain(id);
  // The environment, and a flag over it, still win over dev.json (closed ports: nothing is read).
  const [fromEnv, fromFlag] = [`redis://127.0.0.1:${await freePort()}`, `redis://127.0.0.1:${await freePort()}`];
  const [envWins, flagWins] = await Promise.all([
    herald(['inbox', 'demo'], { REDIS_URL: fromEnv }),
    herald(['inbox', 'demo', '--redis', fromFlag], { REDIS_URL: fromEnv }),
  ]);
  expect(envWins).toMatchObject({ code: 1, stderr: expect.stringContaining(`Redis at ${fromEnv}`) });
  expect(flagWins).toMatchObject({ code: 1, stderr: expect.stringContaining(`Redis at ${fromFlag}`) });

  // Web Push is on in the dev stack, with the pair the launcher keeps in vapid.json (0600).
  const vapid = JSON.parse(readFileSync(join(devDir, 'vapid.json'), 'utf8')) as { publicKey: string };
  expect(statSync(join(devDir, 'vapid.json')).mode & 0o777).toBe(0o600);
  const gatewayWs = (JSON.parse(readFileSync(file, 'utf8')) as { settings: { HERALD_GATEWAY_URL: string } }).settings.HERALD_GATEWAY_URL;
  const served = await fetch(`${gatewayWs.replace(/^ws/, 'http').replace(/\/ws$/, '')}/v1/push-subscriptions/vapid-public-key`);
  expect(await served.json()).toEqual({ publicKey: vapid.publicKey });
});

it('SIGKILL of the launcher: within seconds nothing it started is running', async () => {
  running ??= await startLauncher();
  const procs = remember(running);
  // What the issue found left behind: the private Redis, the Java (or Node) emulator, Postgres, apps.
  expect(named(procs, /redis-server/)).toHaveLength(1);
  expect(named(procs, /postgres -D/)).toHaveLength(1);
  expect(named(procs, /apps\/(gateway|ingest|exposure-consumer)\/src\/main\.ts/)).toHaveLength(3);
  expect(named(procs, /pubsub-emulator|cloud-pubsub/).length).toBeGreaterThan(0);
  running.child.kill('SIGKILL');
  const tookMs = await allGone(procs, 'every process of the killed launcher to end');
  process.stdout.write(`dev-launcher: ${procs.length} processes gone ${tookMs} ms after SIGKILL of the launcher\n`);
  // Its watchdog removed what the CLI would have read.
  expect(existsSync(join(devDir, 'dev.json'))).toBe(false);
  running = undefined;
});

it('a dev.json whose launcher is gone is not used, and the CLI says so', async () => {
  const dead = spawnSync('true').pid as number;
  const elsewhere = `redis://127.0.0.1:${await freePort()}`;
  writeFileSync(join(devDir, 'dev.json'), JSON.stringify({ pid: dead, startedAt: new Date().toISOString(), settings: { REDIS_URL: elsewhere } }), { mode: 0o600 });
  // --redis (a closed port): never the machine's own Redis, whatever the CLI would fall back to.
  const closed = `redis://127.0.0.1:${await freePort()}`;
  const inbox = await herald(['inbox', 'demo', '--redis', closed]);
  expect(inbox.stderr).toContain(`ignoring ${join(devDir, 'dev.json')}: the npm run dev that wrote it (pid ${dead}) is gone`);
  expect(inbox.stderr).toContain(`Redis at ${closed}`);
  expect(inbox.code).toBe(1);
});

it('after a SIGKILL, the next start comes up (same state dir, same ports) with its own Postgres and apps', async () => {
  const launcher = (running = await startLauncher());
  // "Up" alone would not do: a leftover app on the same port answers the readiness probe too.
  await waitFor(
    () => {
      const procs = remember(launcher);
      return named(procs, /postgres -D/).length === 1 && named(procs, /apps\/(gateway|ingest|exposure-consumer)\/src\/main\.ts/).length === 3;
    },
    { timeoutMs: ORPHAN_DEADLINE_MS, what: 'the new launcher to run its own Postgres and three apps' },
  ).catch((err: Error) => {
    const complaints = launcher.output().split('\n').filter((l) => /lock file|EADDRINUSE|exited|failed/i.test(l));
    throw new Error(`${err.message}; the launcher said:\n${complaints.join('\n').slice(-2000)}`);
  });
  const inbox = await herald(['inbox', 'demo']);
  expect({ code: inbox.code, stderr: inbox.stderr }).toEqual({ code: 0, stderr: '' });
});

it('SIGKILL of the launcher and of its watchdog: the next start stops what they left, says so, and comes up', async () => {
  running ??= await startLauncher();
  const procs = remember(running);
  const record = readRunRecord(devDir);
  expect(record?.launcher.pid).toBe(running.pid);
  process.kill(record!.watchdog.pid, 'SIGKILL');
  running.child.kill('SIGKILL');
  await waitFor(() => !isRunning(record!.watchdog) && !isRunning(record!.launcher), { what: 'launcher and watchdog to die' });
  // Nobody is left to stop them: the leftovers the issue describes.
  const left = procs.filter(isRunning);
  expect(named(left, /redis-server/)).toHaveLength(1);
  expect(named(left, /postgres -D/)).toHaveLength(1);
  running = await startLauncher();
  expect(running.output()).toMatch(new RegExp(`\\[dev\\] stopped \\d+ processes left by an earlier npm run dev \\(pid ${record!.launcher.pid}\\): .*redis-server`));
  expect(left.filter(isRunning)).toEqual([]);
  expect(named(remember(running), /postgres -D/)).toHaveLength(1);
});

it('what a launcher with no record left (as before dev-run.json): the next start stops the apps and Postgres in its way', async () => {
  running ??= await startLauncher();
  const procs = remember(running);
  const record = readRunRecord(devDir)!;
  process.kill(record.watchdog.pid, 'SIGKILL');
  running.child.kill('SIGKILL');
  await waitFor(() => !isRunning(record.watchdog) && !isRunning(record.launcher), { what: 'launcher and watchdog to die' });
  rmSync(join(devDir, 'dev-run.json'));
  const inTheWay = [...named(procs, /postgres -D/), ...named(procs, /apps\/(gateway|ingest|exposure-consumer)\/src\/main\.ts/)].filter(isRunning);
  expect(named(inTheWay, /postgres -D/)).toHaveLength(1);
  running = await startLauncher();
  expect(running.output()).toMatch(/\[dev\] stopped (an orphaned exposure-consumer|a Postgres left running)/);
  // Its redis-server and emulator (on ports nobody asks for again) cannot be told from a stranger's.
  expect(inTheWay.filter(isRunning)).toEqual([]);
  expect(named(remember(running), /apps\/(gateway|ingest|exposure-consumer)\/src\/main\.ts/)).toHaveLength(3);
});

it('SIGHUP to its process group (the terminal closed): it stops, and so does everything it started', async () => {
  running ??= await startLauncher();
  const procs = remember(running);
  const exited = new Promise<number | null>((resolve) => running!.child.once('exit', (code) => resolve(code)));
  process.kill(-running.pid, 'SIGHUP');
  await allGone(procs, 'every process of the launcher to end after SIGHUP');
  expect(await exited).toBe(0);
  expect(existsSync(join(devDir, 'dev.json'))).toBe(false);
  expect(processId(running.pid)).toBeUndefined();
  running = undefined;
});

it('one of its apps crashing: it stops everything else and exits 1', async () => {
  const launcher = (running ??= await startLauncher());
  const procs = remember(launcher);
  const exited = new Promise<number | null>((resolve) => launcher.child.once('exit', (code) => resolve(code)));
  const [gateway] = named(procs, /apps\/gateway\/src\/main\.ts/);
  process.kill(gateway.pid, 'SIGKILL');
  await allGone(procs, 'every process of the launcher to end after its gateway crashed');
  expect(await exited).toBe(1);
  expect(launcher.output()).toContain(`[dev] gateway (pid ${gateway.pid}) exited (SIGKILL): stopping everything`);
  running = undefined;
});

it('stdout gone (the reader of its pipe ended): it stops, and so does everything it started', async () => {
  // At info level the gateway prints a line for an upgrade it refuses, which the launcher then
  // cannot write.
  const launcher = (running = await startLauncher({ LOG_LEVEL: 'info' }));
  const procs = remember(launcher);
  const exited = new Promise<number | null>((resolve) => launcher.child.once('exit', (code) => resolve(code)));
  launcher.child.stdout!.destroy();
  const { settings } = JSON.parse(readFileSync(join(devDir, DEV_STACK_FILE), 'utf8')) as DevStackFile;
  const refusal = await TestClient.refusal(settings.HERALD_GATEWAY_URL!, 'not-a-token');
  expect(refusal.status).toBe(401);
  await allGone(procs, 'every process of the launcher to end after its stdout closed');
  expect(await exited).toBe(0);
  expect(launcher.output()).toContain('output is gone (EPIPE)');
  running = undefined;
});
