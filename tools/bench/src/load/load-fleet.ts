/**
 * The bench's side of the load clients: several load-client processes (load-client-main.ts),
 * each holding a share of the connections, driven over IPC. Connection i goes to client
 * i mod C, so every client spans every gateway and source address.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { stopProcess } from '@herald/testing';
import { MAX_SOCKETS_PER_CLIENT } from './plan';
import type { LoadStats, Ready, Reply, Request } from './protocol';

const REPO_ROOT = resolve(__dirname, '..', '..', '..', '..');
const CLIENT_MAIN = join(__dirname, 'load-client-main.ts');
const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;
/** Handshakes in flight per client process: enough to keep a gateway busy, not enough to flood its accept queue. */
export const HANDSHAKES_PER_CLIENT = 256;

type Pending = { resolve(reply: Reply): void; reject(err: Error): void };

export interface OpenPlan {
  /** ws://host:port/ws of each gateway. */
  urls: string[];
  addresses: string[];
  /** Per connection: [gateway index, address index, token]. */
  connections: Array<[number, number, string]>;
  ack: boolean;
  /** Handshakes in flight per client process (default HANDSHAKES_PER_CLIENT). */
  concurrency?: number;
}

/** LoadStats of every client together; `perClient` keeps each one's. */
export interface FleetStats extends LoadStats {
  perClient: LoadStats[];
}

class LoadClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private exited: string | undefined;

  constructor(
    readonly index: number,
    readonly child: ChildProcess,
  ) {
    child.on('message', (message: Reply | Ready) => {
      if (message.type === 'ready') return;
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.type === 'failed') waiter.reject(new Error(`load client ${index}: ${message.message}`));
      else waiter.resolve(message);
    });
    child.once('exit', (code, signal) => {
      this.exited = `load client ${index} exited (${signal ?? `code ${code}`})`;
      for (const waiter of this.pending.values()) waiter.reject(new Error(this.exited));
      this.pending.clear();
    });
  }

  request<T extends Reply['type']>(body: DistributiveOmit<Request, 'id'>, expect: T): Promise<Extract<Reply, { type: T }>> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        resolve: (reply) =>
          reply.type === expect
            ? resolve(reply as Extract<Reply, { type: T }>)
            : reject(new Error(`load client ${this.index} answered ${reply.type} to ${body.type}`)),
        reject,
      });
      this.child.send({ ...body, id } as Request);
    });
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export class LoadFleet {
  private closing: Promise<void> | undefined;
  /** A bench that dies must not leave clients behind (one listener for the fleet, not one per child). */
  private readonly killOnExit = () => {
    for (const client of this.clients) client.child.kill('SIGKILL');
  };

  private constructor(private readonly clients: LoadClient[]) {
    process.once('exit', this.killOnExit);
  }

  /** Start `count` load-client processes; resolves when each is listening. */
  static async start(count: number): Promise<LoadFleet> {
    const clients: LoadClient[] = [];
    const fleet = new LoadFleet(clients);
    try {
      for (let index = 0; index < count; index++) {
        const child = spawn(process.execPath, ['--import', 'tsx', CLIENT_MAIN], {
          cwd: REPO_ROOT,
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
          stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        });
        clients.push(new LoadClient(index, child));
      }
      await Promise.all(clients.map((client) => untilReady(client.child, client.index)));
      return fleet;
    } catch (err) {
      await fleet.close();
      throw err;
    }
  }

  get size(): number {
    return this.clients.length;
  }

  get pids(): number[] {
    return this.clients.map((c) => c.child.pid as number);
  }

  /** Hand out the connections and open them all at once; resolves when every one is open or given up. */
  async open(plan: OpenPlan): Promise<void> {
    const shares = this.clients.map(() => [] as Array<[number, number, string]>);
    plan.connections.forEach((connection, i) => shares[i % shares.length].push(connection));
    const biggest = Math.max(...shares.map((s) => s.length));
    if (biggest > MAX_SOCKETS_PER_CLIENT) {
      throw new Error(`${biggest} sockets for one load client is too many (at most ${MAX_SOCKETS_PER_CLIENT}); start more clients`);
    }
    await Promise.all(
      this.clients.map((client, k) =>
        client.request(
          {
            type: 'open',
            urls: plan.urls,
            addresses: plan.addresses,
            connections: shares[k],
            ack: plan.ack,
            concurrency: plan.concurrency ?? HANDSHAKES_PER_CLIENT,
          },
          'opened',
        ),
      ),
    );
  }

  /** Counts of every client; `withAtLeast` counts connections with at least `atLeast` messages. */
  async stats(atLeast = 1): Promise<FleetStats> {
    const perClient = (await Promise.all(this.clients.map((c) => c.request({ type: 'stats', atLeast }, 'stats')))).map((r) => r.stats);
    return { ...sumStats(perClient), perClient };
  }

  /** Cut every socket off and stop the processes; each step runs even if another fails; twice is a no-op. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      // Each client cuts its sockets off; one that does not answer in time is stopped all the same.
      await Promise.allSettled(
        this.clients.map((c) => {
          let timer: NodeJS.Timeout | undefined;
          const late = new Promise((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS)));
          return Promise.race([c.request({ type: 'close' }, 'closed'), late]).finally(() => clearTimeout(timer));
        }),
      );
      await Promise.allSettled(this.clients.map((c) => stopProcess(c.child, STOP_GRACE_MS)));
      process.removeListener('exit', this.killOnExit);
    })();
    return this.closing;
  }
}

export function sumStats(all: readonly LoadStats[]): LoadStats {
  const min = (values: Array<number | null>) => pick(values, Math.min);
  const max = (values: Array<number | null>) => pick(values, Math.max);
  const sum = (key: keyof LoadStats) => all.reduce((total, s) => total + (s[key] as number), 0);
  const closedByCode: Record<string, number> = {};
  for (const s of all) for (const [code, n] of Object.entries(s.closedByCode)) closedByCode[code] = (closedByCode[code] ?? 0) + n;
  return {
    assigned: sum('assigned'),
    open: sum('open'),
    welcomed: sum('welcomed'),
    messages: sum('messages'),
    withAtLeast: sum('withAtLeast'),
    ackedIds: sum('ackedIds'),
    ackFrames: sum('ackFrames'),
    refused: sum('refused'),
    retried: sum('retried'),
    failed: sum('failed'),
    closedByCode,
    unexpected: sum('unexpected'),
    firstAttemptAt: min(all.map((s) => s.firstAttemptAt)),
    lastOpenAt: max(all.map((s) => s.lastOpenAt)),
    lastWelcomeAt: max(all.map((s) => s.lastWelcomeAt)),
    lastMessageAt: max(all.map((s) => s.lastMessageAt)),
    cpuSeconds: sum('cpuSeconds'),
    rssBytes: sum('rssBytes'),
    lastError: all.find((s) => s.lastError !== null)?.lastError ?? null,
  };
}

function pick(values: Array<number | null>, choose: (...n: number[]) => number): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length > 0 ? choose(...known) : null;
}

function untilReady(child: ChildProcess, index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`load client ${index} did not start in ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    const onMessage = (message: Ready | Reply) => {
      if (message.type !== 'ready') return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve();
    };
    child.on('message', onMessage);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`load client ${index} exited with code ${code} before it was ready`));
    });
  });
}
