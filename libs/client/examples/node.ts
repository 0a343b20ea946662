/**
 * A Node program that receives a user's messages with the SDK, processes each, then acknowledges it.
 *
 *   npm run dev                                    # in another terminal; note its AUTH_JWT_SECRET
 *   export HERALD_DEV_SECRET=dev-only-…
 *   HERALD_USER_TOKEN=$(npx herald token demo) node --import tsx libs/client/examples/node.ts
 *   npx herald send --user demo '{"text":"hello"}' # in a third terminal
 *
 * Node 20 has no global WebSocket, so the `ws` package is passed in; it also lets the client see
 * the gateway's pings and notice a dead connection. Ctrl-C closes the client and exits.
 */
import WebSocket from 'ws';
// In an app: import { HeraldClient } from '@herald/client';
import { HeraldClient } from '../src';

async function main(): Promise<void> {
  const url = process.env.HERALD_GATEWAY_URL ?? 'ws://127.0.0.1:8080/ws';
  const token = process.env.HERALD_USER_TOKEN;
  if (!token) {
    process.stderr.write('Set HERALD_USER_TOKEN to a user token, e.g. $(npx herald token demo).\n');
    process.exit(2);
  }
  // A real app passes a function that fetches a fresh token from its backend; the client calls it
  // again when the gateway says the token expired (4001) and shortly before it does.
  const client = new HeraldClient({ url, token, WebSocket, ack: 'manual' });
  client.on('welcome', (w) => process.stderr.write(`connected as ${w.userId}, categories [${w.categories.join(', ')}]\n`));
  client.on('disconnect', (d) =>
    process.stderr.write(`disconnected (${d.code} ${d.reason})${d.reconnectInMs === null ? '' : `, retrying in ${d.reconnectInMs} ms`}\n`),
  );
  process.once('SIGINT', () => void client.close());
  process.once('SIGTERM', () => void client.close());

  for await (const message of client.messages()) {
    // Process first, acknowledge after: a crash in between means the message comes again.
    process.stdout.write(`${JSON.stringify({ id: message.id, category: message.category, payload: message.payload })}\n`);
    client.ack(message.id);
  }
  process.stderr.write('closed\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
