/**
 * What the push scenarios (live-push, api-push, category-broadcast) share: the server under test,
 * one Herald gateway (exposures on, clients ack every message), the raw `ws` baseline
 * (workers/baseline-server.ts; its clients do not ack), the same server reading its clients' acks
 * (`ws-ack`: the floor of an at-least-once server) or the Socket.IO one (workers/socketio-server.ts;
 * its clients ack) behind one interface, its clients, and the figures they compare.
 */
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { FlagSpec } from './flags';
import { clientsFor, Fleet } from './fleet';
import { untilExposuresPublished, type GatewaySample } from './metrics';
import { procMemory, type CpuGroup } from './procs';
import { FAST_ACCEPT, Rig, wsUrlOf } from './rig';
import type { Row, ScenarioContext } from './scenario';
import { sleep, watch } from './watch';

export type Target = 'herald' | 'baseline' | 'ws-ack' | 'socketio';
const TARGETS: readonly Target[] = ['herald', 'socketio', 'baseline', 'ws-ack'];
/** `--target` words: a target, `ws` (the raw baseline's other name), `both` (herald and the raw baseline). */
const isSelected = (words: readonly string[], t: Target) =>
  words.some((word) => word === t || (word === 'ws' && t === 'baseline') || (word === 'both' && (t === 'herald' || t === 'baseline')));

/** What a target's producer writes to Redis (workers/sender.ts): the raw `ws` servers read the same channels. */
export const senderKind = (target: Target): 'herald' | 'baseline' | 'socketio' => (target === 'ws-ack' ? 'baseline' : target);

/** The flags both push scenarios take: which servers, and how many client processes. */
export const PUSH_FLAGS: Record<'target' | 'client-procs', FlagSpec> = {
  target: {
    kind: 'words',
    default: 'both',
    choices: [...TARGETS, 'ws', 'both'],
    description: 'herald, socketio, baseline (or ws: raw ws, clients do not ack), ws-ack (raw ws reading its clients\' acks), both (herald,baseline)',
  },
  'client-procs': { kind: 'int', default: '2', min: 1, max: 32, description: 'client processes (raised so that none holds more than 15,000 sockets)' },
};

/** One round: `runTarget` for each `--target` (Herald first) on one rig, then Herald's rows get their ratios (addRatios). */
export function runTargets(
  ctx: ScenarioContext,
  runTarget: (ctx: ScenarioContext, rig: Rig, target: Target, tag: string) => Promise<Row[]>,
  ratios: Record<string, string>,
  same: (herald: Row, baseline: Row) => boolean,
): Promise<Row[]> {
  return Rig.run(ctx, async (rig, runTag) => {
    ctx.parameter('gatewayEnv', JSON.stringify(FAST_ACCEPT));
    const rows: Row[] = [];
    for (const target of TARGETS.filter((t) => isSelected(ctx.flags.words('target'), t))) {
      const progress = (line: string) => ctx.progress(`${target}: ${line}`);
      rows.push(...(await runTarget({ ...ctx, progress }, rig, target, `${runTag}-${target}`)));
    }
    addRatios(rows, ratios, same);
    return rows;
  });
}

/**
 * The server under test; `adminUrl` (for /metrics) is the gateway's, null for the baseline. With
 * several gateways, `pid`, `wsUrl` and `adminUrl` are the first's and `pids` / `adminUrls` all of them.
 */
type PushServer = {
  target: Target;
  pid: number;
  pids: number[];
  wsUrl: string;
  wsUrls: string[];
  adminUrl: string | null;
  adminUrls: string[];
  stop(): Promise<unknown>;
  /** `ws-ack`: the ack ids the server has read so far. */
  acksRead?(): Promise<number>;
};

/**
 * `servers` gateways publishing exposures to `topic` (FAST_ACCEPT, `env`), or as many processes of
 * the baseline (each subscribed to the same Redis: raw `ws` to the PUBLISHed channels, Socket.IO
 * through its Redis adapter), with one welcomed client per user (spread evenly over them).
 */
export async function startTarget(rig: Rig, target: Target, topic: string, userIds: readonly string[], processes: number, keepPerSeq = false, env = {}, servers = 1) {
  const herald = target === 'herald';
  const running = herald ? await Promise.all(Array.from({ length: servers }, () => rig.startGateway({ EXPOSURE_TOPIC: topic, ...FAST_ACCEPT, ...env }))) : [];
  const file = target === 'socketio' ? 'socketio-server' : 'baseline-server';
  const baselines = herald ? [] : await Promise.all(Array.from({ length: servers }, () => rig.startBaseline(file, { acks: target === 'ws-ack' })));
  const server: PushServer = !herald
    ? {
        target,
        pid: baselines[0].pid,
        pids: baselines.map((b) => b.pid),
        wsUrl: baselines[0].wsUrl,
        wsUrls: baselines.map((b) => b.wsUrl),
        adminUrl: null,
        adminUrls: [],
        stop: () => Promise.all(baselines.map((b) => b.stop())),
        ...(target === 'ws-ack' && {
          acksRead: async () => (await Promise.all(baselines.map((b) => b.acksRead!()))).reduce((sum, n) => sum + n, 0),
        }),
      }
    : {
        target,
        pid: running[0].pid,
        pids: running.map((g) => g.pid),
        wsUrl: wsUrlOf(running[0]),
        wsUrls: running.map(wsUrlOf),
        adminUrl: running[0].adminUrl,
        adminUrls: running.map((g) => g.adminUrl),
        stop: () => Promise.all(running.map((g) => g.stop())),
      };
  const rss = () => server.pids.reduce((sum, pid) => sum + (procMemory(pid)?.rssBytes ?? NaN), 0);
  const rssIdle = rss();
  const started = performance.now();
  const fleet = await Fleet.start(rig, clientsFor(userIds.length, processes));
  const credentials = herald ? await rig.userTokens(userIds) : userIds;
  const connected = await fleet.connect({ herald, socketio: target === 'socketio', urls: server.wsUrls, credentials, ack: target !== 'baseline', keepPerSeq }, rig.signal);
  const measured = rss();
  const rssConnected = Number.isNaN(measured) ? undefined : measured;
  return {
    server,
    fleet,
    connectSeconds: (performance.now() - started) / 1000,
    connectRetries: connected.refused + connected.retried,
    rssKiBPerConn: Number.isNaN(rssIdle) || rssConnected === undefined ? null : (rssConnected - rssIdle) / 1024 / userIds.length,
    rssConnected,
    stop: async () => (await fleet.close(), await server.stop()),
  };
}

/**
 * One measurement from a fleet reset: `send` (resolving with the messages due) until they all
 * arrived or arrivals stalled for `stallMs`, then `settleMs` for the acks (and `settled`, e.g.
 * until they are stored), then until Pub/Sub has every exposure event of what arrived, all inside
 * a CPU window: publishing an exposure is part of a delivery's cost, even when the spill puts it
 * off past the last arrival. Returns what arrived, and the exposure events the gateway published
 * meanwhile (how many of them went through the spill, and how many pushes went out without their
 * write-ahead log; null for the baselines).
 */
export async function measurePush(
  rig: Rig,
  { server, fleet }: { server: PushServer; fleet: Fleet },
  groups: Record<string, CpuGroup>,
  send: () => Promise<number>,
  opts: { stallMs: number; settleMs: number; report(line: string): void; settled?(): Promise<unknown> },
) {
  const before = await settledExposures(server, 0, rig.signal);
  await fleet.reset();
  const window = rig.cpuWindow({ server: server.pids, ...groups });
  await fleet.untilReceived(await send(), { stallMs: opts.stallMs, signal: rig.signal, report: opts.report });
  await sleep(opts.settleMs, rig.signal);
  await opts.settled?.();
  const received = await fleet.stats(1, true);
  const after = before && (await settledExposures(server, before.taken + received.messages, rig.signal));
  const cpu = window.stop();
  const exposures =
    before && after
      ? { exposures: after.taken - before.taken, exposuresSpilled: after.spilled - before.spilled, exposuresUnlogged: after.unlogged - before.unlogged }
      : undefined;
  return { cpu, received, ...(exposures ?? { exposures: null, exposuresSpilled: null, exposuresUnlogged: null }) };
}

/**
 * The gateways' samples summed once Pub/Sub has taken `taken` exposures from them together and
 * none holds any; undefined for the baseline.
 */
export async function settledExposures(server: PushServer, taken: number, signal: AbortSignal): Promise<GatewaySample | undefined> {
  if (!server.adminUrl) return undefined;
  if (server.adminUrls.length === 1) return (await untilExposuresPublished(server.adminUrl, taken, { stallMs: 30_000, signal })).last;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const samples = await Promise.all(server.adminUrls.map(async (url) => (await untilExposuresPublished(url, 0, { stallMs: 30_000, signal })).last));
    const sum = samples.reduce((a, b) => {
      const out = { ...a };
      for (const key of Object.keys(b) as (keyof GatewaySample)[]) out[key] = a[key] + b[key];
      return out;
    });
    if (sum.taken >= taken || Date.now() > deadline) return sum;
    await sleep(200, signal);
  }
}

/**
 * `ws-ack`: the ack ids its server has read in all, once they reach `atLeast` (or once no new one
 * came for `stallMs`); undefined for the other targets.
 */
export async function acksReadBy(server: PushServer, atLeast: number, signal: AbortSignal, stallMs = 5000): Promise<number | undefined> {
  const { acksRead } = server;
  if (!acksRead) return undefined;
  const poll = async () => {
    const read = await acksRead();
    return { done: read >= atLeast, progress: read, line: `${read} of ${atLeast} acked ids read` };
  };
  return (await watch(poll, { intervalMs: 50, stallMs, signal })).last.progress;
}

export function sharedCpuNote(target: Target, herald: string, baseline: string): string {
  const acks = target === 'ws-ack' ? "; the server reads its clients' acks" : '';
  return `${cpus().length} cores shared: ${target === 'herald' ? herald : baseline}${acks}`;
}

/** An open-loop producer more than this far behind its schedule did not offer the rate (withProducerLag). */
export const PRODUCER_BEHIND_MS = 1000;

/**
 * `notes`, with a warning first when the producer fell more than PRODUCER_BEHIND_MS behind its
 * schedule: it could not offer the rate, so the row measures the producer, not the server.
 */
export function withProducerLag(notes: string, producerLagMs: number): string {
  if (!(producerLagMs > PRODUCER_BEHIND_MS)) return notes;
  return `PRODUCER BEHIND by ${(producerLagMs / 1000).toFixed(1)} s: the rate was not offered; ${notes}`;
}

/**
 * On Herald's rows, `<ratio>` = Herald's figure ÷ the raw baseline's for the same case (`same`),
 * `<ratio>Sio` ÷ Socket.IO's, `<ratio>Ack` ÷ the raw baseline's that reads acks (`ws-ack`).
 */
export function addRatios(rows: Row[], keys: Record<string, string>, same: (herald: Row, baseline: Row) => boolean): void {
  for (const row of rows) {
    for (const [peer, suffix] of [['baseline', ''], ['socketio', 'Sio'], ['ws-ack', 'Ack']]) {
      const other = row.target === 'herald' ? rows.find((r) => r.target === peer && same(row, r)) : undefined;
      for (const [ratio, key] of Object.entries(keys)) {
        const [a, b] = [row[key], other?.[key]];
        row[ratio + suffix] = typeof a === 'number' && typeof b === 'number' && b !== 0 ? a / b : null;
      }
    }
  }
}
