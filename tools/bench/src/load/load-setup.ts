/**
 * The steps both connection-load scenarios take before they measure: gateways started at once,
 * one token per user, and the users' connections planned over gateways, source addresses and
 * load-client processes.
 */
import { performance } from 'node:perf_hooks';
import type { AppProcess } from '../herald/app-process';
import { findPids } from '../herald/proc-cpu';
import type { Rig } from '../herald/rig';
import type { CpuRoles } from './cpu-split';
import type { LoadFleet, OpenPlan } from './load-fleet';
import type { ConnectionPlan } from './plan';

/** Tokens signed at once; signing is CPU-bound, this only bounds the promises in memory. */
const SIGN_CHUNK = 5000;

export const wsUrlOf = (gateway: AppProcess): string => `${gateway.url.replace(/^http/, 'ws')}/ws`;

/** `count` gateways with the same settings, started in parallel (each on its own port). */
export async function startGateways(rig: Rig, count: number, env: Record<string, string>): Promise<AppProcess[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, () => rig.startGateway(env)));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason; // the rig stops the ones that did start
  return started.map((s) => (s as PromiseFulfilledResult<AppProcess>).value);
}

/** One token per user, signed with the secret the rig's gateways check. */
export async function signTokens(rig: Rig, userIds: readonly string[], signal: AbortSignal): Promise<string[]> {
  const tokens: string[] = [];
  for (let start = 0; start < userIds.length; start += SIGN_CHUNK) {
    signal.throwIfAborted();
    tokens.push(...(await Promise.all(userIds.slice(start, start + SIGN_CHUNK).map((id) => rig.userToken(id)))));
  }
  return tokens;
}

/** User i (token i) on the gateway and address the plan gives connection i. */
export function openPlan(plan: ConnectionPlan, gateways: readonly AppProcess[], tokens: readonly string[], ack: boolean): OpenPlan {
  return {
    urls: gateways.map(wsUrlOf),
    addresses: plan.addresses,
    connections: plan.connections.map(([gateway, address], i) => [gateway, address, tokens[i]]),
    ack,
  };
}

export const epochNow = (): number => performance.timeOrigin + performance.now();

export const seconds = (fromMs: number | null, toMs: number | null): number | null =>
  fromMs === null || toMs === null ? null : Math.max(0, toMs - fromMs) / 1000;

/** The processes on the machine by role, for measureCpu (the emulator only when it is Google's JVM). */
export function cpuRoles(rig: Rig, gateways: readonly AppProcess[], fleet: LoadFleet): CpuRoles {
  const emulatorPort = rig.pubsub.emulatorHost.split(':').pop();
  return {
    gateways: gateways.map((g) => g.pid),
    clients: fleet.pids,
    redis: rig.redis.process.pid === undefined ? [] : [rig.redis.process.pid],
    emulator: rig.pubsub.kind === 'google' ? findPids(`--port=${emulatorPort}`) : [],
    ingest: [rig.ingest.pid],
    bench: [process.pid],
  };
}

/** A CPU split as row fields: { gateways: 1.2 } becomes { cpuGatewaysSeconds: 1.2 }. */
export function cpuFields(prefix: string, split: Record<string, number | null>): Record<string, number | null> {
  return Object.fromEntries(Object.entries(split).map(([role, s]) => [`${prefix}${role[0].toUpperCase()}${role.slice(1)}Seconds`, s]));
}

/** `gateways 3.1 s, clients 1.2 s, …` for a progress line. */
export function describeCpu(split: Record<string, number | null>): string {
  return Object.entries(split)
    .map(([role, s]) => `${role} ${s === null ? '-' : s.toFixed(1)} s`)
    .join(', ');
}
