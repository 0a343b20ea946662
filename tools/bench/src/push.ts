/**
 * What the push scenarios share: the server under test, one Herald gateway (exposures on, clients
 * ack every message) or the raw `ws` baseline (workers/baseline-server.ts) behind one interface,
 * its clients, and the figures they compare.
 */
import { cpus } from 'node:os';
import type { FlagSpec } from './flags';
import { performance } from 'node:perf_hooks';
import { clientsFor, Fleet } from './fleet';
import { untilExposuresPublished, type GatewaySample } from './metrics';
import { cpuWindow, procMemory } from './procs';
import { FAST_ACCEPT, type Rig } from './rig';
import type { Row } from './scenario';
import { sleep } from './watch';

export type Target = 'herald' | 'baseline';
const TARGETS: readonly Target[] = ['herald', 'baseline'];

/** The flags both push scenarios take: which servers, and how many client processes. */
export const PUSH_FLAGS: Record<'target' | 'client-procs', FlagSpec> = {
  target: { kind: 'words', default: 'both', choices: [...TARGETS, 'both'], description: 'herald, baseline or both' },
  'client-procs': { kind: 'int', default: '2', min: 1, max: 32, description: 'client processes (raised so that none holds more than 15,000 sockets)' },
};

/** `--target` words as the targets to run, Herald first. */
export const targetsOf = (words: readonly string[]): Target[] => TARGETS.filter((t) => words.includes(t) || words.includes('both'));

export interface PushServer {
  target: Target;
  pid: number;
  /** ws:// URL the clients connect to. */
  wsUrl: string;
  /** The gateway's admin URL for /metrics; null for the baseline. */
  adminUrl: string | null;
  stop(): Promise<unknown>;
}

/** A gateway publishing exposures to `topic` (with FAST_ACCEPT and `env`), or the baseline server. */
export async function startServer(rig: Rig, target: Target, topic: string, env: Record<string, string> = {}): Promise<PushServer> {
  if (target === 'baseline') return { target, ...(await rig.startBaseline()), adminUrl: null };
  const gateway = await rig.startGateway({ EXPOSURE_TOPIC: topic, ...FAST_ACCEPT, ...env });
  return { target, pid: gateway.pid, wsUrl: `${gateway.url.replace(/^http/, 'ws')}/ws`, adminUrl: gateway.adminUrl, stop: () => gateway.stop() };
}

/**
 * The server with one client per user, all welcomed (Herald's with a token each, acking every
 * message); the server's RSS before and after they connected, and how long connecting took.
 */
export async function startTarget(rig: Rig, target: Target, topic: string, userIds: readonly string[], processes: number, keepPerSeq = false, env = {}) {
  const server = await startServer(rig, target, topic, env);
  const rssIdle = procMemory(server.pid)?.rssBytes;
  const herald = target === 'herald';
  const started = performance.now();
  const fleet = await Fleet.start(rig, clientsFor(userIds.length, processes));
  const credentials = herald ? await rig.userTokens(userIds) : userIds;
  const connected = await fleet.connect({ herald, urls: [server.wsUrl], credentials, ack: herald, keepPerSeq }, rig.signal);
  const rssConnected = procMemory(server.pid)?.rssBytes;
  return {
    server,
    fleet,
    connectSeconds: (performance.now() - started) / 1000,
    connectRetries: connected.refused + connected.retried,
    rssKiBPerConn: rssIdle === undefined || rssConnected === undefined ? null : (rssConnected - rssIdle) / 1024 / userIds.length,
    rssConnected,
    stop: async () => (await fleet.close(), await server.stop()),
  };
}

/**
 * One measurement from a fleet reset: `send` (resolving with the messages due) until they all
 * arrived or arrivals stalled for `stallMs`, then `settleMs` for the acks and the last exposure
 * batch, all inside a CPU window; then what arrived, and the exposure events the gateway published.
 */
export async function measurePush(
  rig: Rig,
  { server, fleet }: { server: PushServer; fleet: Fleet },
  groups: Record<string, number[]>,
  send: () => Promise<number>,
  opts: { stallMs: number; settleMs: number; report(line: string): void },
) {
  const before = await settledExposures(server, 0, rig.signal);
  await fleet.reset();
  const window = cpuWindow(rig.cpuGroups({ server: [server.pid], ...groups }));
  await fleet.untilReceived(await send(), { stallMs: opts.stallMs, signal: rig.signal, report: opts.report });
  await sleep(opts.settleMs, rig.signal);
  const cpu = window.stop();
  const received = await fleet.stats(1, true);
  return { cpu, received, ...(await exposuresSince(server, before, received.messages, rig.signal)) };
}

/** The gateway's sample once Pub/Sub has taken `taken` exposures in all and nothing waits; undefined for the baseline. */
export async function settledExposures(server: PushServer, taken: number, signal: AbortSignal): Promise<GatewaySample | undefined> {
  return server.adminUrl ? (await untilExposuresPublished(server.adminUrl, taken, { stallMs: 30_000, signal })).last : undefined;
}

/** Exposure events Pub/Sub took since `before` once `received` more were due, and how many went through the spill. */
async function exposuresSince(server: PushServer, before: GatewaySample | undefined, received: number, signal: AbortSignal) {
  const after = before && (await settledExposures(server, before.taken + received, signal));
  if (!before || !after) return { exposures: null, exposuresSpilled: null };
  return { exposures: after.taken - before.taken, exposuresSpilled: after.spilled - before.spilled };
}

/** Who shares the CPU with the server during the measurement. */
export function sharedCpuNote(target: Target, herald: string, baseline: string): string {
  return `${cpus().length} cores shared: ${target === 'herald' ? herald : baseline}`;
}

/** On Herald's rows, `<key>X` = Herald's figure ÷ the baseline's for the same case (`same`). */
export function addRatios(rows: Row[], keys: Record<string, string>, same: (herald: Row, baseline: Row) => boolean): void {
  for (const row of rows) {
    const baseline = row.target === 'herald' ? rows.find((r) => r.target === 'baseline' && same(row, r)) : undefined;
    for (const [ratio, key] of Object.entries(keys)) {
      const [a, b] = [row[key], baseline?.[key]];
      row[ratio] = typeof a === 'number' && typeof b === 'number' && b !== 0 ? a / b : null;
    }
  }
}
