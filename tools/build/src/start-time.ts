/**
 * `node --import tsx tools/build/src/start-time.ts [--app gateway|ingest] [--runs 5]`: how long an
 * app takes from process spawn to its first /readyz 200, and its RSS once idle: from its TypeScript
 * sources through tsx (with tsx's compile cache warm, and empty as in a new pod, whose /tmp is an
 * empty volume) and from its bundle (build it first), in turn, on a private redis-server and
 * Herald's Pub/Sub emulator. Prints each start and the medians (docs/BENCHMARKS.md, "Start time
 * and idle memory").
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { appCommand, freePort, newDevSecret, productionNodeFlags, startPubSub, startRedisServer, stopProcess, type RunFrom } from '@herald/stack';

/** /readyz is asked this often: the figure's resolution. */
const POLL_MS = 10;
const READY_TIMEOUT_MS = 60_000;
/** How long the app idles after /readyz before its RSS is read. */
const IDLE_MS = 5_000;

interface Variant {
  label: string;
  from: RunFrom;
  /** tsx keeps compiled files in os.tmpdir(): a fresh TMPDIR per start empties its cache. */
  emptyTmp: boolean;
}

const VARIANTS: Variant[] = [
  { label: 'source, tsx cache warm', from: 'source', emptyTmp: false },
  { label: 'source, tsx cache empty', from: 'source', emptyTmp: true },
  { label: 'bundle', from: 'dist', emptyTmp: false },
];

interface Start {
  variant: Variant;
  readyMs: number;
  rssMb: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return kb / 1024;
}

async function startOnce(app: 'gateway' | 'ingest', variant: Variant, env: NodeJS.ProcessEnv): Promise<Start> {
  const { from } = variant;
  const port = await freePort();
  const adminPort = await freePort();
  const tmp = variant.emptyTmp ? mkdtempSync(join(tmpdir(), 'herald-start-')) : undefined;
  const started = performance.now();
  const child = spawn(process.execPath, [...productionNodeFlags(app), ...appCommand(app, from)], {
    env: { ...env, PORT: String(port), ADMIN_PORT: String(adminPort), ...(tmp ? { TMPDIR: tmp } : {}) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${app} (${from}) exited with code ${child.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
      if (ok) break;
      if (performance.now() - started > READY_TIMEOUT_MS) throw new Error(`${app} (${from}) not ready in ${READY_TIMEOUT_MS} ms`);
      await sleep(POLL_MS);
    }
    const readyMs = performance.now() - started;
    await sleep(IDLE_MS);
    return { variant, readyMs, rssMb: rssMb(child.pid as number) };
  } finally {
    await stopProcess(child, 15_000);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { app: { type: 'string', default: 'gateway' }, runs: { type: 'string', default: '5' } } });
  const app = values.app as 'gateway' | 'ingest';
  if (app !== 'gateway' && app !== 'ingest') throw new Error('--app must be gateway or ingest');
  const runs = Number(values.runs);
  const redis = await startRedisServer();
  const pubsub = await startPubSub({ kind: 'herald' });
  try {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      METADATA_SERVER_DETECTION: 'none',
      REDIS_URL: redis.url,
      PUBSUB_EMULATOR_HOST: pubsub.emulatorHost,
      PUBSUB_PROJECT_ID: pubsub.projectId,
      AUTH_JWT_SECRET: newDevSecret(),
    };
    const starts: Start[] = [];
    for (let i = 0; i < runs; i++) {
      for (const variant of VARIANTS) {
        const s = await startOnce(app, variant, env);
        starts.push(s);
        process.stdout.write(`${app} (${variant.label}): ready in ${s.readyMs.toFixed(0)} ms, idle RSS ${s.rssMb.toFixed(1)} MB\n`);
      }
    }
    for (const variant of VARIANTS) {
      const mine = starts.filter((s) => s.variant === variant);
      process.stdout.write(
        `median of ${mine.length}, ${app} (${variant.label}): ready in ${median(mine.map((s) => s.readyMs)).toFixed(0)} ms, idle RSS ${median(mine.map((s) => s.rssMb)).toFixed(1)} MB\n`,
      );
    }
  } finally {
    await pubsub.stop();
    await redis.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`start-time failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
