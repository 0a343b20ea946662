/**
 * A load-client process: `node --import tsx load-client-main.ts`, started by LoadFleet with an
 * IPC channel. It holds one SocketPool and answers the bench's requests (protocol.ts). It stays
 * far below the 20,000 open files a process may hold here: the fleet gives it at most
 * MAX_SOCKETS_PER_CLIENT connections.
 */
import type { Ready, Reply, Request } from './protocol';
import { SocketPool } from './socket-pool';

if (!process.send) {
  process.stderr.write('load-client-main.ts is started by the bench (LoadFleet), with an IPC channel\n');
  process.exit(2);
}

const pool = new SocketPool();
const reply = (message: Reply | Ready) => process.send?.(message);

process.on('message', (request: Request) => {
  switch (request.type) {
    case 'open':
      pool.open(request).then(
        () => reply({ type: 'opened', id: request.id }),
        (err: unknown) => reply({ type: 'failed', id: request.id, message: err instanceof Error ? err.message : String(err) }),
      );
      break;
    case 'stats':
      reply({ type: 'stats', id: request.id, stats: pool.stats(request.atLeast) });
      break;
    case 'close':
      pool.close();
      reply({ type: 'closed', id: request.id });
      break;
  }
});

// The bench went away (or closed the channel): nothing left to do here.
process.on('disconnect', () => {
  pool.close();
  process.exit(0);
});

reply({ type: 'ready' });
