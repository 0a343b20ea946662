/**
 * The whole Herald stack on one machine: Redis (REDIS_URL, or a private redis-server), a Pub/Sub
 * emulator (PUBSUB_EMULATOR_HOST, or Google's emulator where installed, else ours), Postgres
 * (DATABASE_URL, or the consumer's embedded one), then gateway, ingest and exposure-consumer.
 * What the environment sets is used as given; what it leaves unset gets a development default.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startPubSub, startRedisServer, type RedisServer, type RunningPubSub } from '@herald/testing';
import { REPO_ROOT, startApp, type AppName, type AppProcess, type StartAppOptions } from './app-process';

export interface StackOptions {
  /** The environment the stack was started with (process.env for `npm run dev`). */
  env: NodeJS.ProcessEnv;
  ports?: Partial<Record<AppName, number>>;
  onLine?: StartAppOptions['onLine'];
}

export interface Stack {
  env: NodeJS.ProcessEnv;
  apps: Record<AppName, AppProcess>;
  /** Set when the stack generated a development secret. */
  devSecret?: string;
  redis?: RedisServer;
  pubsub?: RunningPubSub;
  stop(): Promise<void>;
}

export const DEFAULT_PORTS: Record<AppName, number> = { gateway: 8080, ingest: 8081, 'exposure-consumer': 8082 };

export async function startStack(opts: StackOptions): Promise<Stack> {
  const env: NodeJS.ProcessEnv = { METADATA_SERVER_DETECTION: 'none', ...opts.env };
  const started: { redis?: RedisServer; pubsub?: RunningPubSub; apps: AppProcess[] } = { apps: [] };
  const stop = async () => {
    for (const app of started.apps.reverse()) await app.stop();
    await started.pubsub?.stop();
    await started.redis?.stop();
  };
  try {
    if (!env.REDIS_URL && !env.REDIS_CLUSTER_NODES) {
      started.redis = await startRedisServer();
      env.REDIS_URL = started.redis.url;
    }
    if (!env.PUBSUB_EMULATOR_HOST) {
      started.pubsub = await startPubSub();
      env.PUBSUB_EMULATOR_HOST = started.pubsub.emulatorHost;
      env.PUBSUB_PROJECT_ID ??= started.pubsub.projectId;
    }
    let devSecret: string | undefined;
    if (!env.AUTH_JWT_SECRET && !env.AUTH_JWKS_URL) {
      devSecret = `dev-only-${randomBytes(24).toString('hex')}`;
      env.AUTH_JWT_SECRET = devSecret;
    }
    env.EMBEDDED_PG_DIR ??= join(REPO_ROOT, '.herald', 'postgres');
    const ports = { ...DEFAULT_PORTS, ...opts.ports };
    // The consumer first: it creates the subscription, so no exposure published later is missed.
    const apps = {} as Record<AppName, AppProcess>;
    for (const name of ['exposure-consumer', 'gateway', 'ingest'] as const) {
      apps[name] = await startApp({ name, port: ports[name], env, onLine: opts.onLine });
      started.apps.push(apps[name]);
    }
    return { env, apps, devSecret, redis: started.redis, pubsub: started.pubsub, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
