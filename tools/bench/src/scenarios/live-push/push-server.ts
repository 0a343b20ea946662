/**
 * The server under test, Herald or the baseline, behind one interface: what its clients connect
 * to, its process (for CPU and memory), and how its clients behave (Herald's ack, the baseline's
 * do not).
 */
import type { Target } from './client-protocol';
import { ClientFleet } from './client-fleet';
import type { PushRig } from './push-rig';

export interface PushServer {
  target: Target;
  pid: number;
  /** What the clients connect to: the gateway's /ws, or the baseline's root. */
  clientUrl: string;
  /** The gateway's admin URL (ADMIN_PORT) for /metrics; null for the baseline. */
  metricsUrl: string | null;
  stop(): Promise<unknown>;
}

/** A gateway publishing exposures to `topic` (exposures are always on), or the baseline server. */
export async function startPushServer(rig: PushRig, target: Target, topic: string): Promise<PushServer> {
  if (target === 'herald') {
    const gateway = await rig.startGateway(topic);
    return {
      target,
      pid: gateway.pid,
      clientUrl: `${gateway.url.replace(/^http/, 'ws')}/ws`,
      metricsUrl: gateway.adminUrl,
      stop: () => gateway.stop(),
    };
  }
  const baseline = await rig.startBaseline();
  return { target, pid: baseline.pid, clientUrl: baseline.wsUrl, metricsUrl: null, stop: () => baseline.stop() };
}

export interface ConnectOptions {
  userIds: readonly string[];
  processes: number;
  keepPerSeq: boolean;
}

/** Connect one client per user (Herald's with a token each, acking every message). */
export async function connectClients(rig: PushRig, server: PushServer, opts: ConnectOptions): Promise<ClientFleet> {
  const herald = server.target === 'herald';
  const users = herald
    ? await Promise.all(opts.userIds.map(async (id) => ({ id, token: await rig.userToken(id) })))
    : opts.userIds.map((id) => ({ id }));
  return ClientFleet.connect({
    target: server.target,
    url: server.clientUrl,
    users,
    processes: opts.processes,
    ack: herald,
    keepPerSeq: opts.keepPerSeq,
  });
}
