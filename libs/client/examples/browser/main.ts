/**
 * The browser example: connects with the SDK (the browser's own WebSocket, no `ws` in the bundle),
 * lists each message as it arrives, and shows the connection state. `serve.ts` bundles and serves it.
 */
// In an app: import { HeraldClient, type MessageFrame } from '@herald/client';
import { HeraldClient, type MessageFrame } from '../../src';

const params = new URLSearchParams(location.hash.slice(1));
const url = params.get('url') ?? `ws://${location.hostname}:8080/ws`;
const token = params.get('token');
const status = document.getElementById('status') as HTMLElement;
const list = document.getElementById('messages') as HTMLUListElement;

function show(message: MessageFrame): void {
  const item = document.createElement('li');
  item.dataset.id = message.id;
  item.textContent = `${message.createdAt} ${message.category ?? '(direct)'} ${JSON.stringify(message.payload)}`;
  list.append(item);
}

async function main(): Promise<void> {
  if (!token) {
    status.textContent = 'Add #token=<user token> to the address (npx herald token <user>).';
    return;
  }
  const client = new HeraldClient({ url, token });
  // Exposed for the browser test and for poking at from the devtools console.
  (window as unknown as { herald: HeraldClient }).herald = client;
  client.on('state', (state) => (status.textContent = state));
  client.on('welcome', (welcome) => (status.textContent = `open as ${welcome.userId} (session ${welcome.sessionId})`));
  client.on('stopped', (stopped) => (status.textContent = `stopped: ${stopped.code} ${stopped.reason}`));
  for await (const message of client.messages()) show(message);
}

main().catch((err: unknown) => (status.textContent = `failed: ${String(err)}`));
