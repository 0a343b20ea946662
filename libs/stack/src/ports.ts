/** Local TCP ports: one to listen on, whether one is free, whether something answers on one. */
import { connect, createServer } from 'node:net';

/** The address every process of a private stack listens on: loopback only, never the network. */
export const LOOPBACK = '127.0.0.1';

/** A TCP port that was free a moment ago on LOOPBACK. */
export function freePort(): Promise<number> {
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
