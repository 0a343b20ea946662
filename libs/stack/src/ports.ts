/** Local TCP ports: one to listen on, whether one is free, whether something answers on one. */
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

/** The address every process of a private stack listens on: loopback only, never the network. */
export const LOOPBACK = '127.0.0.1';

/**
 * Ports this process has handed out. A port is only picked here, and bound later by whoever asked
 * (an app started after the Redis servers and the emulator of the same stack, say): without this,
 * a later call could hand out the same number before the first asker bound it, and two servers of
 * one stack would share a port (seen: an ingest request answered 404 by another server).
 */
const handedOut = new Set<number>();

/**
 * Ports someone else will listen on (a stack's fixed app ports, given before its Redis is
 * started): never handed out here. Without this, stablePort could pick one for a server of the
 * same stack, free until its app binds it (seen: the dev stack's consumer refused EADDRINUSE).
 */
export function reservePorts(ports: Iterable<number>): void {
  for (const port of ports) handedOut.add(port);
}

/** A TCP port free on the loopback address now, and not handed out before by this process. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = await anyFreePort();
    if (!handedOut.has(port) || attempt >= 100) {
      handedOut.add(port);
      return port;
    }
  }
}

/** Where the kernel picks outgoing connections' local ports (Linux's default when unreadable). */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low > 0 && high >= low) return [low, high];
  } catch {
    // not Linux: its default below
  }
  return [32768, 60999];
}

/**
 * A port free now and below the kernel's ephemeral range, for a server that must come back on the
 * same port minutes later (a restarted stack): a port from freePort() is in that range, and any
 * outgoing connection meanwhile may take it as its local port (seen: EADDRINUSE on a restart).
 */
export async function stablePort(): Promise<number> {
  const [ephemeralLow] = ephemeralRange();
  const [low, high] = stablePortRange();
  for (let attempt = 0; attempt < 1000; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (port >= ephemeralLow || handedOut.has(port) || !(await portFree(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port between ${low} and ${high}`);
}

/** Where stablePort picks: [low, high), from 10,000 up to the kernel's ephemeral range. */
export function stablePortRange(): [number, number] {
  const low = 10_000;
  return [low, Math.max(low + 1000, ephemeralRange()[0])];
}

function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, LOOPBACK, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** True when a server can listen on `host`:`port` right now. */
export function portFree(port: number, host = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** True when something accepts a TCP connection on `host`:`port` right now. */
export function tcpAccepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
