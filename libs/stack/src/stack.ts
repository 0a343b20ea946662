/**
 * The whole Herald stack on one machine: Redis (REDIS_URL or REDIS_CLUSTER_NODES, or a private
 * redis-server, or a private 3-master Redis Cluster), a Pub/Sub
 * emulator (PUBSUB_EMULATOR_HOST, or Google's emulator where installed, else ours), Postgres
 * (DATABASE_URL, or the consumer's embedded one), then gateway, ingest and exposure-consumer.
 * What the environment sets is used as given; what it leaves unset gets a development default.
 * `npm run dev` runs it (tools/dev); so do the end-to-end, fault, client and CLI tests.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DEV_SECRET_PREFIX } from '@herald/config';
import { REPO_ROOT, startApp, type AppName, type AppProcess, type StartAppOptions } from './app-process';
import { freePort, LOOPBACK, reservePorts } from './ports';
import { startPubSub, type RunningPubSub } from './pubsub';
import { startRedisCluster, type RedisCluster } from './redis-cluster';
import { startRedisServer, type RedisServer } from './redis-server';

export interface StackOptions {
  /** The environment the stack was started with (process.env for `npm run dev`). */
  env: NodeJS.ProcessEnv;
  ports?: Partial<Record<AppName, number>>;
  /** The first gateway's ADMIN_PORT (/metrics); the other gateways get free ones. @default 9080 */
  adminPort?: number;
  onLine?: StartAppOptions['onLine'];
  /** Gateway processes to run (default 1); the ones after the first listen on free ports. */
  gateways?: number;
  /** When neither REDIS_URL nor REDIS_CLUSTER_NODES is set: a private redis-server or Cluster. */
  redis?: 'single' | 'cluster';
  /** Leave out the exposure-consumer (and so Postgres), for tests about delivery only. */
  withoutConsumer?: boolean;
}

export interface Stack {
  env: NodeJS.ProcessEnv;
  /** The first process of each app (no consumer when `withoutConsumer`). */
  apps: Record<AppName, AppProcess>;
  /** Every gateway process; `apps.gateway` is the first. */
  gateways: AppProcess[];
  /** Set when the stack generated a development secret. */
  devSecret?: string;
  redis?: RedisServer;
  redisCluster?: RedisCluster;
  pubsub?: RunningPubSub;
  stop(): Promise<void>;
}

/** A fresh development secret: `isDevSecret` knows it, and NODE_ENV=production refuses it. */
export function newDevSecret(): string {
  return `${DEV_SECRET_PREFIX}${randomBytes(24).toString('hex')}`;
}

export const DEFAULT_PORTS: Record<AppName, number> = { gateway: 8080, ingest: 8081, 'exposure-consumer': 8082 };
/** The gateway's admin port (ADMIN_PORT default in libs/config). */
export const DEFAULT_ADMIN_PORT = 9080;

export async function startStack(opts: StackOptions): Promise<Stack> {
  const env: NodeJS.ProcessEnv = { METADATA_SERVER_DETECTION: 'none', ...opts.env };
  // The fixed ports the apps (and the consumer's Postgres) will bind: the servers started first
  // must not take one of them meanwhile.
  const fixed = [...Object.values(opts.ports ?? {}), opts.adminPort, Number(env.EMBEDDED_PG_PORT)];
  reservePorts(fixed.filter((port): port is number => typeof port === 'number' && Number.isInteger(port) && port > 0));
  const started: { redis?: RedisServer; cluster?: RedisCluster; pubsub?: RunningPubSub; apps: AppProcess[] } = {
    apps: [],
  };
  const stop = async () => {
    for (const app of started.apps.reverse()) await app.stop();
    await started.pubsub?.stop();
    await started.redis?.stop();
    await started.cluster?.stop();
  };
  try {
    if (!env.REDIS_URL && !env.REDIS_CLUSTER_NODES) {
      if (opts.redis === 'cluster') {
        started.cluster = await startRedisCluster();
        env.REDIS_CLUSTER_NODES = started.cluster.nodesEnv;
      } else {
        started.redis = await startRedisServer();
        env.REDIS_URL = started.redis.url;
      }
    }
    if (!env.PUBSUB_EMULATOR_HOST) {
      started.pubsub = await startPubSub();
      env.PUBSUB_EMULATOR_HOST = started.pubsub.emulatorHost;
      env.PUBSUB_PROJECT_ID ??= started.pubsub.projectId;
    }
    let devSecret: string | undefined;
    if (!env.AUTH_JWT_SECRET && !env.AUTH_JWKS_URL) {
      devSecret = newDevSecret();
      env.AUTH_JWT_SECRET = devSecret;
    }
    env.EMBEDDED_PG_DIR ??= join(REPO_ROOT, '.herald', 'postgres');
    // A development stack (with a printed dev secret) listens on loopback unless HOST says otherwise.
    env.HOST ??= LOOPBACK;
    const ports = { ...DEFAULT_PORTS, ...opts.ports };
    // The consumer first: it creates the subscription, so no exposure published later is missed.
    const apps = {} as Record<AppName, AppProcess>;
    const start = async (name: AppName, port: number, adminPort?: number) => {
      const app = await startApp({ name, port, adminPort, env, onLine: opts.onLine });
      started.apps.push(app);
      return app;
    };
    if (!opts.withoutConsumer) apps['exposure-consumer'] = await start('exposure-consumer', ports['exposure-consumer']);
    const gateways = [await start('gateway', ports.gateway, opts.adminPort ?? DEFAULT_ADMIN_PORT)];
    const more = Array.from({ length: (opts.gateways ?? 1) - 1 }, async () => start('gateway', await freePort()));
    gateways.push(...(await Promise.all(more)));
    apps.gateway = gateways[0];
    apps.ingest = await start('ingest', ports.ingest);
    return {
      env,
      apps,
      gateways,
      devSecret,
      redis: started.redis,
      redisCluster: started.cluster,
      pubsub: started.pubsub,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
