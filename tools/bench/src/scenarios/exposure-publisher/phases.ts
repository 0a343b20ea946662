/**
 * The three ways the scenario makes exposure events, each measured the same way (see
 * exposure-tally.ts for the timing and the exactly-once check):
 *
 * - burst: N messages wait in offline inboxes; the users connect at once and the gateway drains
 *   them, calling record() as fast as it pushes. The gateway process is what is measured.
 * - paced: the users are connected; ingest gets messages at a fixed event rate and the gateway
 *   pushes them live. Shows the publish latency when Pub/Sub keeps up.
 * - direct: no gateway; the bench publishes N exposure events of the same shape with the same
 *   client batching, as fast as it can. What the emulator and the client library sustain alone.
 */
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import type { ExposureEvent } from '@herald/types';
import type { Row } from '../../scenario';
import type { AppProcess } from '../../herald/app-process';
import { CountingClient } from '../../herald/counting-client';
import { tallyExposures, type Tally } from '../../herald/exposure-tally';
import { sampleGateway, watchExposures, type GatewaySample } from '../../herald/gateway-metrics';
import type { IngestClient } from '../../herald/ingest-client';
import { cpuSecondsOf, otherCpu } from '../../herald/proc-cpu';
import type { Rig } from '../../herald/rig';
import { messagesFor, planWorkload, type Workload } from './workload';

export type Mode = 'burst' | 'paced' | 'direct';
export const MODES: readonly Mode[] = ['burst', 'paced', 'direct'];

export interface Setting {
  batchMessages: number;
  batchMs: number;
}

export interface PhaseEnv {
  rig: Rig;
  events: number;
  /** Events per second of the paced phase. */
  rate: number;
  /** The emulator's processes, for its CPU time (empty when unknown). */
  emulatorPids: number[];
  /**
   * Every process of the rig and the bench itself: what is not theirs is someone else's load.
   * Empty when the emulator's processes are unknown (Herald's emulator).
   */
  rigPids: number[];
  signal: AbortSignal;
  progress(line: string): void;
}

/** Messages ingest is sent at once while loading inboxes. */
const PRELOAD_CONCURRENCY = 16;
/** Messages a second the paced phase sends ingest at most (each to many users). */
const PACED_POSTS_PER_SEC = 100;
/** POSTs in flight at most in the paced phase; past it the pacing falls behind (and shows). */
const PACED_MAX_IN_FLIGHT = 64;
const SAMPLE_INTERVAL_MS = 100;
const GATEWAY_STALL_MS = 30_000;
const CLIENTS_TIMEOUT_MS = 30_000;
const TALLY_QUIET_MS = 500;
const TALLY_STALL_MS = 15_000;
/** The direct phase yields to the event loop this often, as the gateway does between pushes. */
const DIRECT_YIELD_EVERY = 1000;

interface Measured {
  tally: Tally;
  /** CPU seconds of the publishing process (the gateway, or the bench for `direct`). */
  cpuSeconds: number;
  emulatorCpuSeconds?: number;
  /** CPU seconds the machine spent on other work meanwhile (see otherCpu). */
  otherCpuSeconds?: number;
  wallMs: number;
  peakPending: number | null;
  spilled: number | null;
}

export async function runBurst(env: PhaseEnv, gateway: AppProcess, subscription: string, setting: Setting, tag: string): Promise<Row> {
  const prefix = `bench-${tag}-burst-`;
  const workload = planWorkload(env.events, prefix);
  env.progress(`burst: loading ${env.events} exposures' worth of messages into ${workload.userIds.length} offline inboxes`);
  await preload(env.rig.producer, workload, env.signal);
  const tokens = await Promise.all(workload.userIds.map((id) => env.rig.userToken(id)));
  env.progress(`burst: ${workload.userIds.length} users connect; the gateway drains and publishes`);
  const clients: CountingClient[] = [];
  try {
    const measured = await measureGateway(env, gateway, workload, clients, async () => {
      clients.push(...(await connectAll(gateway, tokens)));
    });
    return toRow('burst', setting, env, await tally(env, subscription, prefix), measured);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

export async function runPaced(env: PhaseEnv, gateway: AppProcess, subscription: string, setting: Setting, tag: string): Promise<Row> {
  const prefix = `bench-${tag}-paced-`;
  // Enough users that ingest gets at most PACED_POSTS_PER_SEC messages a second.
  const workload = planWorkload(env.events, prefix, Math.ceil(env.rate / PACED_POSTS_PER_SEC));
  const clients = await connectAll(gateway, await Promise.all(workload.userIds.map((id) => env.rig.userToken(id))));
  try {
    await until(() => clients.every((c) => c.welcomed), CLIENTS_TIMEOUT_MS, 'every paced client to be welcomed', env.signal);
    env.progress(`paced: ${env.events} events at ${env.rate}/s through ingest to ${clients.length} connected users`);
    const measured = await measureGateway(env, gateway, workload, clients, () => sendPaced(env, workload));
    return toRow('paced', setting, env, await tally(env, subscription, prefix), measured);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

export async function runDirect(env: PhaseEnv, topicName: string, subscription: string, setting: Setting, tag: string): Promise<Row> {
  const prefix = `bench-${tag}-direct-`;
  const users = planWorkload(env.events, prefix).userIds;
  const sessions = users.map(() => randomUUID());
  const topic = env.rig.client.topic(topicName, {
    batching: { maxMessages: setting.batchMessages, maxMilliseconds: setting.batchMs },
  });
  env.progress(`direct: the bench publishes ${env.events} events itself`);
  const cpuBefore = process.cpuUsage();
  const emulatorBefore = cpuSecondsOf(env.emulatorPids);
  const others = env.rigPids.length > 0 ? otherCpu(env.rigPids) : undefined;
  const started = performance.now();
  const publishes: Array<Promise<string>> = [];
  for (let i = 0; i < env.events; i++) {
    if (i > 0 && i % DIRECT_YIELD_EVERY === 0) {
      env.signal.throwIfAborted();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const event: ExposureEvent = {
      eventId: randomUUID(),
      messageId: randomUUID(),
      userId: users[i % users.length],
      category: null,
      sessionId: sessions[i % users.length],
      gatewayId: 'bench-direct',
      deliveredAt: new Date().toISOString(),
      via: 'live',
    };
    publishes.push(topic.publishMessage({ data: Buffer.from(JSON.stringify(event)) }));
  }
  const results = await Promise.allSettled(publishes);
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const emulatorAfter = cpuSecondsOf(env.emulatorPids);
  const otherCpuSeconds = others?.stop();
  const failed = results.filter((r) => r.status === 'rejected').length;
  if (failed > 0) env.progress(`direct: ${failed} publishes failed`);
  await topic.flush();
  const measured: Measured = {
    tally: await tally(env, subscription, prefix),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    emulatorCpuSeconds: emulatorBefore !== undefined && emulatorAfter !== undefined ? emulatorAfter - emulatorBefore : undefined,
    otherCpuSeconds,
    wallMs,
    peakPending: null,
    spilled: null,
  };
  return toRow('direct', setting, env, measured.tally, measured);
}

/**
 * Run `drive` against the gateway and sample it until every expected event is published, then
 * until every client has its messages. `clients` (the caller's, who closes them) are checked on
 * every sample; `drive` may add to them.
 */
async function measureGateway(
  env: PhaseEnv,
  gateway: AppProcess,
  workload: Workload,
  clients: CountingClient[],
  drive: () => Promise<void>,
): Promise<Omit<Measured, 'tally'>> {
  const baseline: GatewaySample = await sampleGateway(gateway.adminUrl);
  const emulatorBefore = cpuSecondsOf(env.emulatorPids);
  const others = env.rigPids.length > 0 ? otherCpu([...env.rigPids, gateway.pid]) : undefined;
  const watching = watchExposures(gateway.adminUrl, {
    expected: env.events,
    baseline,
    intervalMs: SAMPLE_INTERVAL_MS,
    stallMs: GATEWAY_STALL_MS,
    signal: env.signal,
    progress: env.progress,
    check: () => checkClients(clients),
  });
  watching.catch(() => undefined); // awaited below; a failed drive must not leave it unobserved
  await drive();
  const watched = await watching;
  const emulatorAfter = cpuSecondsOf(env.emulatorPids);
  const otherCpuSeconds = others?.stop();
  await until(
    () => clients.every((c, i) => c.messages >= messagesFor(workload, i)),
    CLIENTS_TIMEOUT_MS,
    'every client to receive its messages',
    env.signal,
  );
  return {
    cpuSeconds: watched.last.cpuSeconds - baseline.cpuSeconds,
    emulatorCpuSeconds: emulatorBefore !== undefined && emulatorAfter !== undefined ? emulatorAfter - emulatorBefore : undefined,
    otherCpuSeconds,
    wallMs: watched.wallMs,
    peakPending: watched.peakPending,
    spilled: watched.last.spilled - baseline.spilled,
  };
}

function checkClients(clients: readonly CountingClient[]): void {
  const bad = clients.find((c) => c.closeCode !== undefined || c.unexpected !== undefined);
  if (bad) throw new Error(`a client was closed (${bad.closeCode ?? 'open'}) or got an unexpected frame: ${bad.unexpected ?? ''}`);
}

function tally(env: PhaseEnv, subscription: string, prefix: string): Promise<Tally> {
  return tallyExposures(env.rig.client, subscription, {
    userPrefix: prefix,
    expected: env.events,
    quietMs: TALLY_QUIET_MS,
    stallMs: TALLY_STALL_MS,
    signal: env.signal,
    progress: env.progress,
  });
}

function toRow(mode: Mode, setting: Setting, env: PhaseEnv, tally: Tally, measured: Omit<Measured, 'tally'>): Row {
  const seconds = (fromUs: number, toUs: number) => Math.max(toUs - fromUs, 1) / 1e6;
  const wallSeconds = measured.wallMs / 1000;
  return {
    mode,
    batchMessages: setting.batchMessages,
    batchMs: setting.batchMs,
    events: env.events,
    eventsPerSec: tally.delivered > 0 ? tally.delivered / seconds(tally.firstRecordedUs, tally.lastPublishedUs) : 0,
    recordsPerSec: tally.delivered > 0 ? tally.delivered / seconds(tally.firstRecordedUs, tally.lastRecordedUs) : 0,
    cpuUsPerEvent: (measured.cpuSeconds * 1e6) / env.events,
    publisherCpuPct: (measured.cpuSeconds / wallSeconds) * 100,
    emulatorCpuPct: measured.emulatorCpuSeconds === undefined ? null : (measured.emulatorCpuSeconds / wallSeconds) * 100,
    otherCpuPct: measured.otherCpuSeconds === undefined ? null : (measured.otherCpuSeconds / wallSeconds) * 100,
    peakPending: measured.peakPending,
    spilled: measured.spilled,
    p50Ms: tally.latency.p50Ms,
    p99Ms: tally.latency.p99Ms,
    maxMs: tally.latency.maxMs,
    delivered: tally.delivered,
    duplicates: tally.duplicates,
    redeliveries: tally.redeliveries,
    strays: tally.strays,
    exactlyOnce: tally.delivered === env.events && tally.duplicates === 0,
  };
}

async function preload(producer: IngestClient, workload: Workload, signal: AbortSignal): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < workload.recipients.length) {
      signal.throwIfAborted();
      const j = next++;
      await producer.send(workload.userIds.slice(0, workload.recipients[j]), { text: 'bench message', n: j });
    }
  };
  await Promise.all(Array.from({ length: PRELOAD_CONCURRENCY }, worker));
}

/** Send message j when its first event is due at `rate` events per second. */
async function sendPaced(env: PhaseEnv, workload: Workload): Promise<void> {
  const started = performance.now();
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let due = 0;
  for (let j = 0; j < workload.recipients.length; j++) {
    const wait = (due / env.rate) * 1000 - (performance.now() - started);
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    while (inFlight.size >= PACED_MAX_IN_FLIGHT) await Promise.race(inFlight);
    env.signal.throwIfAborted();
    if (failure) throw failure;
    const sent: Promise<void> = env.rig.producer
      .send(workload.userIds.slice(0, workload.recipients[j]), { text: 'bench message', n: j })
      .catch((err: unknown) => void (failure ??= err))
      .finally(() => inFlight.delete(sent));
    inFlight.add(sent);
    due += workload.recipients[j];
  }
  await Promise.all(inFlight);
  if (failure) throw failure;
}

async function connectAll(gateway: AppProcess, tokens: readonly string[]): Promise<CountingClient[]> {
  const wsUrl = `${gateway.url.replace(/^http/, 'ws')}/ws`;
  const results = await Promise.allSettled(tokens.map((token) => CountingClient.connect(wsUrl, token)));
  const clients = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const refused = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (refused) {
    await Promise.all(clients.map((c) => c.close()));
    throw refused.reason;
  }
  return clients;
}

async function until(check: () => boolean, timeoutMs: number, what: string, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    signal.throwIfAborted();
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
