/**
 * A private `redis-server` on a free port, for one test run or `npm run dev`. Never the machine's
 * own Redis.
 *
 * By default it keeps nothing on disk. With `persistent: true` it runs as production does (AOF,
 * here fsynced on every write) in a private temporary directory, so a test can stop and start it
 * on the same port and find its data again: a Redis restarted under traffic.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOOPBACK, stablePort } from './ports';
import { serialQueue, stopProcess } from './process';

export interface RedisServerOptions {
  /**
   * Keep every write across `restart()`: `--appendonly yes --appendfsync always` in a temporary
   * directory that `stop()` deletes. Off (the default): no RDB, no AOF, nothing on disk.
   * @default false
   */
  persistent?: boolean;
  /** More redis-server arguments, after Herald's own (for one setting, the later one wins). */
  args?: string[];
}

export interface RedisServer {
  port: number;
  url: string;
  /** The running redis-server (a new one after each start). */
  readonly process: ChildProcess;
  /** Whether data survives `stopServer()`/`restart()` (`persistent`). */
  readonly persistent: boolean;
  /**
   * Stop the server (SIGTERM: Redis writes what it holds and exits), keeping its directory.
   * Clients see their connections drop and reconnect attempts refused. A no-op when stopped.
   */
  stopServer(): Promise<void>;
  /**
   * Start it again on the same port with the same directory, so `url` stays valid and a
   * persistent server has its data back. Rejects if the port was taken meanwhile. A no-op when
   * running.
   */
  startServer(): Promise<void>;
  /** `stopServer()` then `startServer()`. */
  restart(): Promise<void>;
  /** Stop it for good and delete its directory; idempotent. */
  stop(): Promise<void>;
}

const START_ATTEMPTS = 6;

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const persistent = options.persistent ?? false;
  const dir = persistent ? await mkdtemp(join(tmpdir(), 'herald-redis-')) : undefined;
  const args = (port: number) => [
    '--port',
    String(port),
    '--bind',
    LOOPBACK,
    '--save',
    '',
    '--daemonize',
    'no',
    ...(dir ? ['--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    ...(options.args ?? []),
  ];
  try {
    for (let attempt = 0; ; attempt++) {
      // Below the ephemeral range: startServer() binds the same port again, later (ports.ts).
      const port = await stablePort();
      const child = await spawnServer(args(port));
      if (child) return redisServer(port, child, args(port), dir);
      if (attempt >= START_ATTEMPTS - 1) throw new Error(`redis-server did not start after ${START_ATTEMPTS} attempts`);
    }
  } catch (err) {
    if (dir) await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

function redisServer(port: number, first: ChildProcess, args: string[], dir: string | undefined): RedisServer {
  let child: ChildProcess | undefined = first;
  let last = first;
  let stopped = false;
  let stopping: Promise<void> | undefined;
  // stopServer/startServer/stop run one at a time, in call order.
  const serial = serialQueue();
  const stopChild = async () => {
    if (!child) return;
    const running = child;
    child = undefined;
    await stopProcess(running);
  };
  const startServer = () =>
    serial(async () => {
      if (stopped) throw new Error('RedisServer.startServer(): this server was stopped with stop()');
      if (child) return;
      const started = await spawnServer(args);
      if (!started) throw new Error(`redis-server did not start again on port ${port} (was the port taken meanwhile?)`);
      child = last = started;
    });
  const stopServer = () => serial(stopChild);
  return {
    port,
    url: `redis://${LOOPBACK}:${port}`,
    get process() {
      return last;
    },
    persistent: dir !== undefined,
    stopServer,
    startServer,
    restart: async () => {
      await stopServer();
      await startServer();
    },
    stop: () =>
      (stopping ??= serial(async () => {
        stopped = true;
        try {
          await stopChild();
        } finally {
          if (dir) await rm(dir, { recursive: true, force: true });
        }
      })),
  };
}

/** Spawns redis-server; resolves with it once ready, or with undefined when it could not start. */
async function spawnServer(args: string[]): Promise<ChildProcess | undefined> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const ready = await new Promise<boolean>((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) resolve(true);
      if (out.includes('Address already in use')) resolve(false);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (err) =>
      reject(new Error(`cannot start redis-server (${err.message}); install it: apt-get install -y redis-server`)),
    );
    child.once('exit', () => resolve(false));
  });
  if (!ready) {
    child.kill('SIGKILL');
    return undefined;
  }
  child.stdout!.removeAllListeners('data');
  child.stderr!.removeAllListeners('data');
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}
