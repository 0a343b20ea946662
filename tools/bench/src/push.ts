/**
 * What the push scenarios share: the server under test, one Herald gateway (exposures on, clients
 * ack every message) or the raw `ws` baseline (workers/baseline-server.ts) behind one interface,
 * its clients, and the figures they compare.
 */
import { cpus } from 'node:os';
import type { FlagSpec } from './flags';
import { clientsFor, Fleet } from './fleet';
import { untilExposuresPublished, type GatewaySample } from './metrics';
import { FAST_ACCEPT, type Rig } from './rig';
import type { Row } from './scenario';

export type Target = 'herald' | 'baseline';
const TARGETS: readonly Target[] = ['herald', 'baseline'];

export const TARGET_FLAG: FlagSpec = { kind: 'words', default: 'both', choices: [...TARGETS, 'both'], description: 'herald, baseline or both' };
export const CLIENT_PROCS_FLAG: FlagSpec = {
  kind: 'int',
  default: '2',
  min: 1,
  max: 32,
  description: 'client processes (raised so that none holds more than 15,000 sockets)',
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

/** One client per user, all welcomed (Herald's with a token each, acking every message). */
export async function connectClients(rig: Rig, server: PushServer, userIds: readonly string[], processes: number, keepPerSeq = false): Promise<Fleet> {
  const herald = server.target === 'herald';
  const fleet = await Fleet.start(rig, clientsFor(userIds.length, processes));
  const credentials = herald ? await rig.userTokens(userIds) : userIds;
  await fleet.connect({ herald, urls: [server.wsUrl], credentials, ack: herald, keepPerSeq }, rig.signal);
  return fleet;
}

/** The gateway's sample once Pub/Sub has taken `taken` exposures in all and nothing waits; undefined for the baseline. */
export async function settledExposures(server: PushServer, taken: number, signal: AbortSignal): Promise<GatewaySample | undefined> {
  if (!server.adminUrl) return undefined;
  return (await untilExposuresPublished(server.adminUrl, taken, { stallMs: 30_000, signal })).last;
}

/** Exposure events Pub/Sub took since `before` once `received` more were due, and how many went through the spill. */
export async function exposuresSince(server: PushServer, before: GatewaySample | undefined, received: number, signal: AbortSignal) {
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
