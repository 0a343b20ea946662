/**
 * A private Redis Cluster for one test run or `npm run dev`: `masters` (default 3) `redis-server`
 * processes in cluster mode on free ports of 127.0.0.1, no replicas, joined and given all 16384
 * slots by `redis-cli --cluster create`. Each node's cluster bus (port + 10000) is checked free
 * too. Node configs live in a fresh temporary directory that `stop()` removes, so nothing stays on
 * disk. Never the machine's own Redis.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, LOOPBACK, portFree } from './ports';
import { stopProcess } from './process';
import { waitFor } from './wait';

export interface RedisCluster {
  /** host:port of every master, e.g. ['127.0.0.1:7001', ...] */
  nodes: string[];
  /** The same as a REDIS_CLUSTER_NODES value: comma-separated host:port */
  nodesEnv: string;
  stop(): Promise<void>;
}

/** Redis listens for cluster-bus traffic on the client port plus this. */
const BUS_PORT_OFFSET = 10_000;
const MAX_PORT = 65_535;
/** The machine's own Redis; never ours. */
const SYSTEM_REDIS_PORT = 6379;
const READY_TIMEOUT_MS = 10_000;
const CLUSTER_OK_TIMEOUT_MS = 20_000;

export async function startRedisCluster(opts: { masters?: number } = {}): Promise<RedisCluster> {
  const masters = opts.masters ?? 3;
  if (!Number.isInteger(masters) || masters < 3) {
    throw new Error(`startRedisCluster: masters must be an integer >= 3 (redis-cli --cluster create needs 3), got ${masters}`);
  }

  const dir = await mkdtemp(join(tmpdir(), 'herald-redis-cluster-'));
  const children: ChildProcess[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await Promise.all(children.map((child) => stopProcess(child)));
      await rm(dir, { recursive: true, force: true });
    })());

  try {
    // Ports taken by this cluster so far (client and bus), so nodes started together never collide.
    const reserved = new Set<number>();
    // allSettled, not all: on a failure every sibling must have finished spawning before stop() runs.
    const started = await Promise.allSettled(
      Array.from({ length: masters }, () => startNode(dir, reserved, (child) => children.push(child))),
    );
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const ports = started.map((r) => (r as PromiseFulfilledResult<number>).value);
    const nodes = ports.map((port) => `${LOOPBACK}:${port}`);

    try {
      await redisCli(['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], 30_000);
    } catch (err) {
      throw new Error(`redis-cli --cluster create ${nodes.join(' ')} failed: ${describeExecError(err)}`);
    }

    await waitFor(
      async () => {
        const infos = await Promise.all(ports.map((port) => redisCli(['-h', LOOPBACK, '-p', String(port), 'cluster', 'info'], 2_000)));
        const notOk = infos
          .map((info, i) => ({ port: ports[i], info }))
          .filter(({ info }) => !/^cluster_state:ok\r?$/m.test(info) || !/^cluster_slots_assigned:16384\r?$/m.test(info));
        if (notOk.length === 0) return true;
        // Thrown (not returned) so waitFor's timeout message says which node is not ready, and why.
        throw new Error(notOk.map(({ port, info }) => `${port}: ${summarizeClusterInfo(info)}`).join('; '));
      },
      { timeoutMs: CLUSTER_OK_TIMEOUT_MS, intervalMs: 100, what: 'every node to report cluster_state:ok with 16384 slots' },
    );

    return { nodes, nodesEnv: nodes.join(','), stop };
  } catch (err) {
    await stop();
    throw err instanceof Error ? new Error(`startRedisCluster failed: ${err.message}`, { cause: err }) : err;
  }
}

/**
 * Start one cluster-mode redis-server on a port P with P and P + 10000 free; retried with new ports
 * when redis-server reports "Address already in use" (someone took a port since we looked).
 * Resolves with P once it is ready to accept connections.
 */
async function startNode(dir: string, reserved: Set<number>, track: (child: ChildProcess) => void): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = await pickClusterPort(reserved);
    const child = spawn(
      'redis-server',
      [
        '--port', String(port),
        '--bind', LOOPBACK,
        '--cluster-enabled', 'yes',
        '--cluster-config-file', join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout', '5000',
        '--save', '',
        '--appendonly', 'no',
        '--daemonize', 'no',
        '--dir', dir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    track(child);
    const result = await new Promise<'ready' | 'in-use' | { failed: string }>((resolve) => {
      let out = '';
      const timer = setTimeout(
        () => resolve({ failed: `not ready after ${READY_TIMEOUT_MS} ms` }),
        READY_TIMEOUT_MS,
      );
      const settle = (value: 'ready' | 'in-use' | { failed: string }) => {
        clearTimeout(timer);
        resolve(value);
      };
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('Ready to accept connections')) settle('ready');
        else if (out.includes('Address already in use')) settle('in-use');
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('error', (err) =>
        settle({ failed: `cannot start redis-server (${err.message}); install it: apt-get install -y redis-server` }),
      );
      child.once('exit', (code, signal) =>
        settle(
          out.includes('Address already in use')
            ? 'in-use'
            : { failed: `redis-server on port ${port} exited (${signal ?? `code ${code}`}): ${tail(out)}` },
        ),
      );
    });
    if (result === 'ready') {
      child.stdout!.removeAllListeners('data');
      child.stderr!.removeAllListeners('data');
      child.stdout!.resume();
      child.stderr!.resume();
      return port;
    }
    // Stopped here rather than left to the caller, so a retry does not pile up dead processes.
    await stopProcess(child, 1000);
    if (result !== 'in-use') throw new Error(result.failed);
    if (attempt >= 5) throw new Error(`redis-server did not start after ${attempt + 1} attempts: ports kept being taken`);
  }
}

/** A free port P whose cluster bus port P + 10000 is also free and in range, reserved in `reserved`. */
async function pickClusterPort(reserved: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await freePort();
    const bus = port + BUS_PORT_OFFSET;
    if (bus > MAX_PORT || port === SYSTEM_REDIS_PORT) continue;
    if (reserved.has(port) || reserved.has(bus)) continue;
    if (!(await portFree(bus, LOOPBACK))) continue;
    // Checked again after the await: a sibling node may have reserved either port meanwhile.
    if (reserved.has(port) || reserved.has(bus)) continue;
    reserved.add(port).add(bus);
    return port;
  }
  throw new Error(`no free port P with P + ${BUS_PORT_OFFSET} also free and <= ${MAX_PORT} after 100 tries`);
}

function redisCli(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stdout, stderr }));
      else resolve(stdout);
    });
  });
}

function describeExecError(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string; killed?: boolean; signal?: string };
  if (e.code === 'ENOENT') return 'redis-cli not found; install it: apt-get install -y redis-tools';
  const how = e.killed ? `killed (${e.signal}) after the timeout` : `exit code ${e.code}`;
  const output = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim();
  return `${how}${output ? `; output:\n${output}` : ''}`;
}

function summarizeClusterInfo(info: string): string {
  const wanted = ['cluster_state', 'cluster_slots_assigned', 'cluster_known_nodes'];
  const lines = info.split(/\r?\n/).filter((line) => wanted.some((key) => line.startsWith(`${key}:`)));
  return lines.length > 0 ? lines.join(' ') : JSON.stringify(info.trim());
}

function tail(text: string, max = 2000): string {
  const trimmed = text.trim();
  return trimmed.length > max ? `...${trimmed.slice(-max)}` : trimmed;
}
