/**
 * `npm run dev`: start the whole stack, print where everything is, a demo token and a curl that
 * sends the demo user a message; Ctrl-C stops it all.
 */
import { SignJWT } from 'jose';
import { createLogger } from '@herald/logger';
import { exitOnSignals } from '@herald/http';
import { startStack } from '@herald/testing';
import { join } from 'node:path';
import { loadDevConfig } from './config';

const DEMO_USER = 'demo';
/** Each app gets 15 s to stop; the whole stack this long. */
const STOP_TIMEOUT_MS = 60_000;

async function sign(secret: string, sub: string, scope?: string): Promise<string> {
  return new SignJWT(scope ? { scope } : {})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('24h')
    .sign(new TextEncoder().encode(secret));
}

async function main(): Promise<void> {
  const config = loadDevConfig();
  const env = { ...process.env, EMBEDDED_PG_DIR: process.env.EMBEDDED_PG_DIR ?? join(config.HERALD_DEV_DIR, 'postgres') };
  const ports = { gateway: config.HERALD_DEV_GATEWAY_PORT, ingest: config.HERALD_DEV_INGEST_PORT, 'exposure-consumer': config.HERALD_DEV_CONSUMER_PORT };
  const stack = await startStack({ env, ports, onLine: (name, line) => process.stdout.write(`[${name}] ${line}\n`) });
  const secret = stack.env.AUTH_JWT_SECRET;
  const { gateway, ingest } = stack.apps;
  const consumer = stack.apps['exposure-consumer'];
  const lines = [
    '',
    'Herald is up.',
    `  gateway            ${gateway.url.replace(/^http/, 'ws')}/ws   (health ${gateway.url}/healthz)`,
    `  ingest             ${ingest.url}   (API docs ${ingest.url}/docs)`,
    `  exposure-consumer  ${consumer.url}   (API docs ${consumer.url}/docs)`,
    `  redis              ${stack.env.REDIS_URL ?? stack.env.REDIS_CLUSTER_NODES}`,
    `  pubsub emulator    ${stack.env.PUBSUB_EMULATOR_HOST}${stack.pubsub ? ` (${stack.pubsub.kind})` : ''}`,
    `  postgres           ${stack.env.DATABASE_URL ? 'DATABASE_URL' : `embedded, data in ${stack.env.EMBEDDED_PG_DIR}`}`,
  ];
  if (stack.devSecret) lines.push(`  AUTH_JWT_SECRET    ${stack.devSecret}   (development only, never in production)`);
  if (secret) {
    const userToken = await sign(secret, DEMO_USER);
    const producerToken = await sign(secret, 'demo-producer', 'messages:write categories:write exposures:read');
    lines.push(
      '',
      `Demo user "${DEMO_USER}" token:`,
      `  ${userToken}`,
      `Connect:   npx wscat -c '${gateway.url.replace(/^http/, 'ws')}/ws?access_token=${userToken}'`,
      'Send the demo user a message:',
      `  curl -s -X POST ${ingest.url}/v1/messages -H 'Authorization: Bearer ${producerToken}' -H 'Content-Type: application/json' -d '{"userIds":["${DEMO_USER}"],"payload":{"text":"hello from Herald"}}'`,
      'See the exposures:',
      `  curl -s ${consumer.url}/v1/exposures -H 'Authorization: Bearer ${producerToken}'`,
      `  or open the dashboard: ${consumer.url}/#token=${producerToken}`,
    );
    if (stack.devSecret) {
      lines.push(
        'Or with the herald command line (docs/CLI.md), in another shell:',
        `  export HERALD_DEV_SECRET=${stack.devSecret}`,
        `  npx herald tail ${DEMO_USER}`,
        `  npx herald send --user ${DEMO_USER} '{"text":"hello"}'`,
      );
    }
  }
  lines.push('', 'Ctrl-C stops everything.', '');
  process.stdout.write(lines.join('\n'));

  exitOnSignals({ close: stack.stop }, createLogger({ app: 'dev', level: 'info' }), STOP_TIMEOUT_MS);
}

main().catch((err: unknown) => {
  process.stderr.write(`npm run dev failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
