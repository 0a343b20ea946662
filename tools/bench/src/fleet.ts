/**
 * The one client fleet: client processes (workers/clients.ts) holding the bench's WebSockets,
 * spread so that no process comes near the 20,000 open files it may hold and no source address
 * holds more connections to a gateway than WS_MAX_CONNECTIONS_PER_IP allows. Connection i goes to
 * server i mod G and to process i mod P, so every process spans every server and address.
 */
import type { Histogram } from 'hdr-histogram-js';
import { newHistogram } from './report';
import type { Rig, Worker } from './rig';
import { watch, type Poll } from './watch';
import type { ClientStats, ClientsRequest, OpenRequest } from './workers/clients';

/** Connections one source address makes to one server; the gateway's default limit is 1000. */
const PER_ADDRESS = 500;
/** Sockets one client process holds at most (each is an open file; the hard limit is 20,000). */
export const MAX_SOCKETS_PER_CLIENT = 15_000;
/** Without a choice, a client process per this many connections (and at least two). */
const SOCKETS_PER_CLIENT_DEFAULT = 10_000;
/** Handshakes in flight per client process: enough to keep a gateway busy, not enough to flood its accept queue. */
const HANDSHAKES_PER_CLIENT = 256;

export function clientsFor(connections: number, requested = 0): number {
  const needed = Math.ceil(connections / MAX_SOCKETS_PER_CLIENT);
  return requested > 0 ? Math.max(requested, needed) : Math.max(2, Math.ceil(connections / SOCKETS_PER_CLIENT_DEFAULT));
}

/**
 * The k-th client address: 127.0.0.2 onwards (127.0.0.1 is the servers'), never ending in .0 or
 * .255. All of 127.0.0.0/8 is loopback on Linux: no setup needed.
 */
export function loopbackAddress(k: number): string {
  const m = k + 1;
  const block = Math.floor(m / 254);
  if (block > 0xffff) throw new Error(`no loopback address number ${k}`);
  return `127.${block >> 8}.${block & 0xff}.${(m % 254) + 1}`;
}

/** [server, address] per connection: server i mod G, and round-robin over the addresses within it. */
export function planConnections(connections: number, servers: number, perAddress = PER_ADDRESS) {
  const addressCount = Math.max(1, Math.ceil(Math.ceil(connections / servers) / perAddress));
  const perServer = Array.from({ length: servers }, () => 0);
  const plan: Array<[number, number]> = [];
  for (let i = 0; i < connections; i++) plan.push([i % servers, perServer[i % servers]++ % addressCount]);
  return { addresses: Array.from({ length: addressCount }, (_, k) => loopbackAddress(k)), connections: plan, perServer };
}

type NumberKey = { [K in keyof ClientStats]: ClientStats[K] extends number | null ? K : never }[keyof ClientStats];

/** Every process's stats together, `closed` of all codes; with `full` the merged histogram (destroy it) and latencies by sequence. */
export type FleetStats = Omit<ClientStats, 'histogram' | 'perSeq'> & { closed: number; histogram?: Histogram; perSeq?: Map<number, number[]> };

/** A connect's progress line: `12 open, 10/200 welcomed, 0 refused (503, retried), <more>; last error: …`. */
export const connectLine = (s: FleetStats, total: number, more: string): string =>
  `${s.open} open, ${s.welcomed}/${total} welcomed, ${s.refused} refused (503, retried), ${more}${s.lastError ? `; last error: ${s.lastError}` : ''}`;

/** ws:// URL of each server; credentials: Herald, a token per connection; the baselines, a user id (`socketio`: Socket.IO's). */
export type OpenOptions = { herald: boolean; socketio?: boolean; urls: string[]; credentials: readonly string[]; ack: boolean; keepPerSeq?: boolean };

export class Fleet {
  /** Why opening in the background (`startOpening`) failed: the next `stats()` throws it. */
  private openFailure: unknown;

  private constructor(private readonly workers: readonly Worker[]) {}

  /** Start `count` client processes (the rig stops them). */
  static async start(rig: Rig, count: number): Promise<Fleet> {
    const workers = Array.from({ length: count }, (_, i) => rig.fork('clients', `client process ${i + 1}/${count}`));
    await Promise.all(workers.map((w) => w.request({ type: 'reset' } satisfies ClientsRequest, 30_000)));
    return new Fleet(workers);
  }

  get pids(): number[] {
    return this.workers.map((w) => w.pid);
  }

  /** Hand out the connections and open them; resolves when every one is open or given up. */
  async open(opts: OpenOptions): Promise<void> {
    const plan = planConnections(opts.credentials.length, opts.urls.length);
    const shares = this.workers.map(() => [] as Array<[number, number, string]>);
    plan.connections.forEach(([server, address], i) => shares[i % shares.length].push([server, address, opts.credentials[i]]));
    const biggest = Math.max(...shares.map((s) => s.length));
    if (biggest > MAX_SOCKETS_PER_CLIENT) throw new Error(`${biggest} sockets for one client process is too many (at most ${MAX_SOCKETS_PER_CLIENT})`);
    const { herald, socketio, urls, ack, keepPerSeq = false } = opts;
    const request = (k: number): OpenRequest => ({ type: 'open', herald, socketio, urls, ack, keepPerSeq, addresses: plan.addresses, connections: shares[k], concurrency: HANDSHAKES_PER_CLIENT });
    await Promise.all(this.workers.map((w, k) => w.request(request(k), 600_000)));
  }

  /** Open the connections in the background while the caller watches them (`until`). */
  startOpening(opts: OpenOptions): void {
    this.open(opts).catch((err: unknown) => (this.openFailure = err));
  }

  /** Open every connection and wait for every welcome; throws if any was given up or closed. */
  async connect(opts: OpenOptions, signal: AbortSignal): Promise<FleetStats> {
    await this.open(opts);
    const total = opts.credentials.length;
    const { stats } = await this.until((s) => ({ done: s.welcomed >= total, progress: s.welcomed, line: '' }), { stallMs: 30_000, signal });
    if (stats.welcomed >= total) return stats;
    throw new Error(`${stats.welcomed}/${total} clients welcomed (${stats.failed} given up, ${stats.closed} closed); last error: ${stats.lastError}`);
  }

  /** Poll the stats (with `atLeast`) until `check` says done or its progress stalls: the last stats, whether it stalled, when. */
  async until(
    check: (stats: FleetStats) => Poll | Promise<Poll>,
    opts: { stallMs: number; signal: AbortSignal; report?(line: string): void; atLeast?: number; intervalMs?: number },
  ): Promise<{ stats: FleetStats; stalled: boolean; at: number }> {
    let stats = await this.stats(opts.atLeast);
    const { stalled, at } = await watch(async () => check((stats = await this.stats(opts.atLeast))), { intervalMs: 100, ...opts });
    return { stats, stalled, at };
  }

  /** Counts of every process together; `withAtLeast` counts connections with `atLeast` messages. */
  async stats(atLeast = 1, full = false): Promise<FleetStats> {
    if (this.openFailure) throw this.openFailure;
    const all = await Promise.all(this.workers.map((w) => w.request<ClientStats>({ type: 'stats', atLeast, full } satisfies ClientsRequest)));
    // Counts add up; of the epoch-ms times (…At, null until it happened) the first is the earliest, the last the latest.
    const merge = (key: NumberKey) => {
      const known = all.map((s) => s[key]).filter((v): v is number => v !== null);
      const pick = !key.endsWith('At') ? (a: number, b: number) => a + b : key.startsWith('first') ? Math.min : Math.max;
      return known.length > 0 ? known.reduce((a, b) => pick(a, b)) : null;
    };
    const closedByCode: Record<string, number> = {};
    for (const s of all) for (const [code, n] of Object.entries(s.closedByCode)) closedByCode[code] = (closedByCode[code] ?? 0) + n;
    const perSeq = new Map<number, number[]>();
    for (const [seq, latencies] of all.flatMap((s) => Object.entries(s.perSeq ?? {}))) perSeq.set(Number(seq), [...(perSeq.get(Number(seq)) ?? []), ...latencies]);
    const numbers = (Object.keys(all[0]) as Array<keyof ClientStats>).filter((key): key is NumberKey => typeof all[0][key] === 'number' || key.endsWith('At'));
    return {
      ...(Object.fromEntries(numbers.map((key) => [key, merge(key)])) as Pick<ClientStats, NumberKey>),
      closedByCode,
      closed: Object.values(closedByCode).reduce((n, k) => n + k, 0),
      lastError: all.find((s) => s.lastError !== null)?.lastError ?? null,
      histogram: full ? newHistogram(all.flatMap((s) => (s.histogram ? [s.histogram] : []))) : undefined,
      perSeq: full ? perSeq : undefined,
    };
  }

  /** Forget what was received so far. */
  async reset(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.request({ type: 'reset' } satisfies ClientsRequest)));
  }

  /** Wait until `expected` messages arrived since the last reset, or the count stalls for `stallMs` (the rest is lost). */
  async untilReceived(expected: number, opts: { stallMs: number; signal: AbortSignal; report?(line: string): void }): Promise<FleetStats> {
    return (await this.until((s) => ({ done: s.messages >= expected, progress: s.messages, line: `clients: ${s.messages}/${expected} received` }), opts)).stats;
  }

  /** Cut every socket off and stop the processes. */
  async close(): Promise<void> {
    await Promise.allSettled(this.workers.map((w) => w.request({ type: 'close' } satisfies ClientsRequest, 5000)));
    await Promise.allSettled(this.workers.map((w) => w.stop()));
  }
}
