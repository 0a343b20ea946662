/** Local TCP ports: one to listen on, whether one is free, whether something answers on one. */
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
