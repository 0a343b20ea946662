/**
 * The clients of a push scenario: users spread over client processes (client-process.ts), at most
 * SOCKETS_PER_PROCESS each (a process may hold at most 20,000 open files), and over source
 * addresses 127.0.0.2, 127.0.0.3, … at most SOCKETS_PER_ADDRESS each (the gateway's default
 * WS_MAX_CONNECTIONS_PER_IP, and far from running out of ephemeral ports). The same fleet drives
 * Herald and the baseline.
 */
import { join } from 'node:path';
import type { Histogram } from 'hdr-histogram-js';
import type { ClientCounts, ClientReport, ClientUser, ConnectReply, ConnectRequest, Target } from './client-protocol';
import { mergeHistograms } from './latency';
import { forkWorker, type Worker } from './worker-ipc';

export const SOCKETS_PER_PROCESS = 15_000;
export const SOCKETS_PER_ADDRESS = 1000;
/** 127.0.0.2 … 127.0.0.254. */
const ADDRESSES = 253;
export const MAX_CLIENTS = SOCKETS_PER_ADDRESS * ADDRESSES;
const CLIENT_MAIN = join(__dirname, 'client-process.ts');
/** Connects in flight per client process. */
const CONNECT_CONCURRENCY = 200;
const CONNECT_TIMEOUT_MS = 300_000;
const POLL_MS = 100;

export interface FleetOptions {
  target: Target;
  url: string;
  users: ReadonlyArray<{ id: string; token?: string }>;
  /** Client processes; raised when the users do not fit SOCKETS_PER_PROCESS each. */
  processes: number;
  ack: boolean;
  keepPerSeq: boolean;
}

export interface FleetReport extends ClientCounts {
  histogram: Histogram;
  /** Latencies in ms by sequence number (when the fleet keeps them). */
  perSeq: Map<number, number[]>;
}

export interface WaitOptions {
  /** Give up when the count has not moved for this long (what is missing is lost). */
  stallMs: number;
  signal: AbortSignal;
  progress?(line: string): void;
}

export class ClientFleet {
  private closing?: Promise<void>;

  private constructor(
    private readonly workers: readonly Worker[],
    readonly size: number,
    readonly retries: number,
  ) {}

  /** The client processes' pids, for their CPU time. */
  get pids(): number[] {
    return this.workers.map((w) => w.pid);
  }

  /** Start the processes and connect every user; resolves once every client was welcomed. */
  static async connect(opts: FleetOptions): Promise<ClientFleet> {
    if (opts.users.length > MAX_CLIENTS) throw new Error(`at most ${MAX_CLIENTS} clients (${SOCKETS_PER_ADDRESS} per address 127.0.0.2-254)`);
    const processes = Math.max(1, opts.processes, Math.ceil(opts.users.length / SOCKETS_PER_PROCESS));
    const share = Math.ceil(opts.users.length / processes);
    const workers: Worker[] = [];
    try {
      const replies = await Promise.all(
        Array.from({ length: processes }, (_, p) => {
          const users: ClientUser[] = [];
          for (let i = p * share; i < Math.min(opts.users.length, (p + 1) * share); i++) {
            users.push({ ...opts.users[i], address: `127.0.0.${2 + Math.floor(i / SOCKETS_PER_ADDRESS)}` });
          }
          const worker = forkWorker(CLIENT_MAIN, `${opts.target} clients ${p + 1}/${processes}`);
          workers.push(worker);
          const request: ConnectRequest = {
            type: 'connect',
            target: opts.target,
            url: opts.url,
            users,
            ack: opts.ack,
            keepPerSeq: opts.keepPerSeq,
            concurrency: CONNECT_CONCURRENCY,
          };
          return worker.request<ConnectReply>(request, CONNECT_TIMEOUT_MS);
        }),
      );
      const connected = replies.reduce((n, r) => n + r.connected, 0);
      return new ClientFleet(workers, connected, replies.reduce((n, r) => n + r.retries, 0));
    } catch (err) {
      await Promise.all(workers.map((w) => w.stop(1000)));
      throw err;
    }
  }

  /** Forget what was received so far (the next measurement starts from zero). */
  async reset(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.request({ type: 'reset' })));
  }

  async counts(): Promise<ClientCounts> {
    return sumCounts(await Promise.all(this.workers.map((w) => w.request<ClientReport>({ type: 'report', full: false }))));
  }

  /** Everything received since the last reset, the histograms merged. */
  async report(): Promise<FleetReport> {
    const reports = await Promise.all(this.workers.map((w) => w.request<ClientReport>({ type: 'report', full: true })));
    const perSeq = new Map<number, number[]>();
    for (const report of reports) {
      for (const [seq, latencies] of Object.entries(report.perSeq ?? {})) {
        const list = perSeq.get(Number(seq));
        if (list) list.push(...latencies);
        else perSeq.set(Number(seq), [...latencies]);
      }
    }
    return {
      ...sumCounts(reports),
      histogram: mergeHistograms(reports.flatMap((r) => (r.histogram ? [r.histogram] : []))),
      perSeq,
    };
  }

  /**
   * Wait until the clients have received `expected` messages since the last reset, or until the
   * count stalls; resolves with the last counts either way (the caller reports the shortfall).
   */
  async untilReceived(expected: number, opts: WaitOptions): Promise<ClientCounts> {
    let last = await this.counts();
    let movedAt = Date.now();
    let reportedAt = Date.now();
    while (last.received < expected) {
      opts.signal.throwIfAborted();
      await new Promise((r) => setTimeout(r, POLL_MS));
      const now = await this.counts();
      if (now.received !== last.received) movedAt = Date.now();
      else if (Date.now() - movedAt > opts.stallMs) {
        opts.progress?.(`clients: stuck at ${now.received}/${expected} for ${opts.stallMs} ms; the rest counts as lost`);
        return now;
      }
      if (Date.now() - reportedAt > 2000) {
        opts.progress?.(`clients: ${now.received}/${expected} received`);
        reportedAt = Date.now();
      }
      last = now;
    }
    return last;
  }

  /** Close every socket and stop the processes; twice is a no-op. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all(this.workers.map((w) => w.request({ type: 'close' }, 10_000).catch(() => undefined)));
      await Promise.all(this.workers.map((w) => w.stop(2000)));
    })();
    return this.closing;
  }
}

function sumCounts(reports: readonly ClientCounts[]): ClientCounts {
  const sum: ClientCounts = {
    received: 0,
    outOfOrder: 0,
    unexpected: 0,
    firstUnexpected: null,
    closed: 0,
    firstCloseCode: null,
    firstAtMs: null,
    lastAtMs: null,
  };
  for (const r of reports) {
    sum.received += r.received;
    sum.outOfOrder += r.outOfOrder;
    sum.unexpected += r.unexpected;
    sum.firstUnexpected ??= r.firstUnexpected;
    sum.closed += r.closed;
    sum.firstCloseCode ??= r.firstCloseCode;
    if (r.firstAtMs !== null) sum.firstAtMs = Math.min(sum.firstAtMs ?? Infinity, r.firstAtMs);
    if (r.lastAtMs !== null) sum.lastAtMs = Math.max(sum.lastAtMs ?? -Infinity, r.lastAtMs);
  }
  return sum;
}
