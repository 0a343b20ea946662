/**
 * `npm run dev`: start the whole stack, print where everything is, a demo token and a curl that
 * sends the demo user a message; Ctrl-C stops it all.
 *
 * In its state directory (HERALD_DEV_DIR, `.herald` by default) it leaves, while it runs,
 * `dev.json` (the endpoints and dev secret, where the herald CLI finds them) and, kept by its
 * watchdog, `dev-run.json` (the processes it started). However it ends, the watchdog stops what it
 * started; at start it stops what an earlier run left (see reclaim.ts) and says so.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SignJWT } from 'jose';
import { isDevSecret, removeDevStackFile, writeDevStackFile, type DevStackFile } from '@herald/config';
import { REPO_ROOT, startStack, type Stack } from '@herald/stack';
import { loadDevConfig } from './config';
import { devVapid } from './vapid';
import { watchLifecycle } from './lifecycle';
import { postmasterOf, STOP_GRACE_MS, stopProcesses } from './reap';
import { reclaimLeftovers, reclaimPorts } from './reclaim';

const DEMO_USER = 'demo';
/**
 * Development defaults for webhooks (docs/WEBHOOKS.md): ingest dispatches, and the port of
 * `herald webhooks listen` on this machine may be used over plain http.
 */
const DEV_WEBHOOKS = { WEBHOOK_DISPATCHER: 'true', WEBHOOK_ALLOWED_HOSTS: '127.0.0.1:9000,localhost:9000' };
const WATCHDOG = join(__dirname, 'watchdog.ts');

async function sign(secret: string, sub: string, scope?: string): Promise<string> {
  return new SignJWT(scope ? { scope } : {})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('24h')
    .sign(new TextEncoder().encode(secret));
}

function startWatchdog(stateDir: string, postgresDir: string | undefined): void {
  const args = ['--import', 'tsx', WATCHDOG, stateDir, String(process.pid), ...(postgresDir ? [postgresDir] : [])];
  // Its own session: Ctrl-C and a closed terminal reach the launcher's group, not the watchdog.
  spawn(process.execPath, args, { cwd: REPO_ROOT, detached: true, stdio: 'ignore' }).unref();
}

/** The herald CLI's settings for this stack (its own variable names). */
function cliSettings(stack: Stack): DevStackFile['settings'] {
  const secret = stack.env.AUTH_JWT_SECRET;
  return {
    HERALD_GATEWAY_URL: `${stack.apps.gateway.url.replace(/^http/, 'ws')}/ws`,
    HERALD_INGEST_URL: stack.apps.ingest.url,
    HERALD_CONSUMER_URL: stack.apps['exposure-consumer'].url,
    ...(stack.env.REDIS_CLUSTER_NODES ? { REDIS_CLUSTER_NODES: stack.env.REDIS_CLUSTER_NODES } : { REDIS_URL: stack.env.REDIS_URL }),
    ...(isDevSecret(secret) ? { HERALD_DEV_SECRET: secret } : {}),
  };
}

async function main(): Promise<void> {
  const lifecycle = watchLifecycle();
  const { say } = lifecycle;
  const config = loadDevConfig();
  const stateDir = resolve(config.HERALD_DEV_DIR);
  // 0755: when we are root, Postgres runs as its own user and must reach postgres/ inside.
  mkdirSync(stateDir, { recursive: true, mode: 0o755 });
  const postgresDir = config.DATABASE_URL ? undefined : resolve(config.EMBEDDED_PG_DIR ?? join(stateDir, 'postgres'));
  const appPorts = [
    { port: config.HERALD_DEV_GATEWAY_PORT, setting: 'HERALD_DEV_GATEWAY_PORT' },
    { port: config.HERALD_DEV_INGEST_PORT, setting: 'HERALD_DEV_INGEST_PORT' },
    { port: config.HERALD_DEV_CONSUMER_PORT, setting: 'HERALD_DEV_CONSUMER_PORT' },
    { port: config.HERALD_DEV_ADMIN_PORT, setting: 'HERALD_DEV_ADMIN_PORT' },
  ];
  for (const line of [...(await reclaimLeftovers(stateDir, postgresDir)), ...(await reclaimPorts(appPorts))]) say(`[dev] ${line}\n`);
  startWatchdog(stateDir, postgresDir);

  const vapid = devVapid(stateDir, process.env);
  const stack = await startStack({
    // Webhooks on, and `herald webhooks listen`'s default port allowed over http; the dev VAPID pair
    // (what the environment sets wins).
    env: { ...DEV_WEBHOOKS, ...process.env, ...vapid.env, ...(postgresDir ? { EMBEDDED_PG_DIR: postgresDir } : {}) },
    ports: { gateway: config.HERALD_DEV_GATEWAY_PORT, ingest: config.HERALD_DEV_INGEST_PORT, 'exposure-consumer': config.HERALD_DEV_CONSUMER_PORT },
    adminPort: config.HERALD_DEV_ADMIN_PORT,
    onLine: (name, line) => say(`[${name}] ${line}\n`),
  });
  lifecycle.running(stack, async () => {
    removeDevStackFile(stateDir, process.pid);
    await stack.stop();
    // A consumer that died of the terminal's SIGHUP could not stop its Postgres.
    const postmaster = postgresDir ? postmasterOf(postgresDir) : undefined;
    if (postmaster?.running) await stopProcesses([postmaster.running], STOP_GRACE_MS);
  });
  const devFile = writeDevStackFile(stateDir, { pid: process.pid, startedAt: new Date().toISOString(), settings: cliSettings(stack) });

  const secret = stack.env.AUTH_JWT_SECRET;
  const { gateway, ingest } = stack.apps;
  const consumer = stack.apps['exposure-consumer'];
  const lines = [
    '',
    'Herald is up.',
    `  gateway            ${gateway.url.replace(/^http/, 'ws')}/ws   (health ${gateway.url}/healthz, metrics ${gateway.adminUrl}/metrics)`,
    `  ingest             ${ingest.url}   (API docs ${ingest.url}/docs)`,
    `  exposure-consumer  ${consumer.url}   (API docs ${consumer.url}/docs)`,
    `  redis              ${stack.env.REDIS_URL ?? stack.env.REDIS_CLUSTER_NODES}`,
    `  pubsub emulator    ${stack.env.PUBSUB_EMULATOR_HOST}${stack.pubsub ? ` (${stack.pubsub.kind})` : ''}`,
    `  postgres           ${postgresDir ? `embedded, data in ${postgresDir}` : 'DATABASE_URL'}`,
    `  herald CLI         ${devFile}   (these settings, while the stack runs)`,
  ];
  if (stack.devSecret) lines.push(`  AUTH_JWT_SECRET    ${stack.devSecret}   (development only, never in production)`);
  if (vapid.file) lines.push(`  Web Push           VAPID public key ${vapid.env.WEBPUSH_VAPID_PUBLIC_KEY} (pair kept in ${vapid.file})`);
  if (secret) {
    const userToken = await sign(secret, DEMO_USER);
    const producerToken = await sign(secret, 'demo-producer', 'messages:write categories:write exposures:read webhooks:write');
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
    if (isDevSecret(secret)) {
      lines.push(
        'Or with the herald command line (docs/CLI.md), in another shell of this checkout; it finds this stack by itself:',
        `  npx herald tail ${DEMO_USER}`,
        `  npx herald send --user ${DEMO_USER} '{"text":"hello"}'`,
        `  npx herald inbox ${DEMO_USER}`,
        '  npx herald webhooks create http://127.0.0.1:9000/hook --kind delivered   # then: npx herald webhooks listen --secret whsec_…',
      );
    }
  }
  lines.push('', 'Ctrl-C stops everything.', '');
  say(lines.join('\n'));
}

main().catch((err: unknown) => {
  process.stderr.write(`npm run dev failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
