/** An app from createHttpApp, listening and idle, for idle-wakeups.spec.ts: prints `ready` once listening. */
import { createLogger } from '@herald/logger';
import { createHttpApp } from '../../src';

async function main(): Promise<void> {
  const http = await createHttpApp({ logger: createLogger({ app: 'idle-app', level: 'silent' }), admin: true });
  await http.listen({ host: '127.0.0.1', port: 0, adminPort: 0 });
  process.stdout.write('ready\n');
}

void main();
