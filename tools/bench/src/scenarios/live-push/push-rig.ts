/**
 * What the push scenarios (live-push, category-broadcast) run against, on loopback only: a
 * private redis-server, a private Pub/Sub emulator (started only when a gateway needs it), the
 * Herald apps as processes, and the raw `ws` baseline server, all sharing the one Redis.
 *
 * Unlike herald/rig.ts, it keeps its JWT secret to sign producer tokens (a category message goes
 * through ingest) and starts ingest only when asked: live push writes to Redis the way ingest
 * does, from a producer process, so ingest would only sit on the CPU the scenario measures.
 */
import { randomBytes } from 'node:crypto';
import { closeRedis, createRedis, type HeraldRedis } from '@herald/redis';
import { signToken, startPubSub, startRedisServer, type RunningPubSub } from '@herald/testing';
import { Scope } from '@herald/types';
import { startApp, type AppProcess } from '../../herald/app-process';
import { findPids } from '../../herald/proc-cpu';
import { startBaseline, type BaselineProcess } from '../../baseline/baseline-process';
import { stoppers } from '../../herald/stoppers';

/**
 * Gateway settings the push scenarios change from the product defaults, recorded in the results.
 * Only the accept rate: connecting 20k clients at the default 2000 upgrades/s would spend the
 * round in 503-and-retry. Connections per client address keep their default (1000): the client
 * processes spread their sockets so no address has more (see client-fleet.ts).
 */
export const GATEWAY_BENCH_ENV: Readonly<Record<string, string>> = Object.freeze({ WS_ACCEPT_RATE: '1000000' });

export interface PushRig {
  redisUrl: string;
  redisPid: number;
  /** A commands connection of the bench's own (Herald's scripts defined, auto-pipelined). */
  redis: HeraldRedis;
  /** A gateway process with exposures published to `topic` on the emulator, plus `env`. */
  startGateway(topic: string, env?: Record<string, string>): Promise<AppProcess>;
  /** An ingest process (the category fan-out worker runs in it). */
  startIngest(env?: Record<string, string>): Promise<AppProcess>;
  startBaseline(): Promise<BaselineProcess>;
  /** Which emulator the gateways publish to, once one was started. */
  pubsubKind(): RunningPubSub['kind'] | undefined;
  /** The emulator's processes, for its CPU time (empty when unknown: not started, or Herald's own). */
  emulatorPids(): number[];
  userToken(userId: string): Promise<string>;
  producerToken(): Promise<string>;
  /** Stops everything it started, latest first, each step even if another fails; twice is a no-op. */
  stop(): Promise<void>;
}

export async function startPushRig(signal: AbortSignal, progress: (line: string) => void): Promise<PushRig> {
  const secret = `bench-${randomBytes(24).toString('hex')}`;
  const { own: owned, stop } = stoppers(progress);

  try {
    const server = owned(await startRedisServer(), (s) => s.stop());
    progress(`redis-server on ${server.url}`);
    const redis = owned(createRedis({ REDIS_URL: server.url, REDIS_CLUSTER_NODES: undefined }, 'commands', 'bench'), closeRedis);
    const common = { METADATA_SERVER_DETECTION: 'none', LOG_LEVEL: 'warn', REDIS_URL: server.url, AUTH_JWT_SECRET: secret };
    let pubsub: Promise<RunningPubSub> | undefined;
    let running: RunningPubSub | undefined;
    const emulator = () =>
      (pubsub ??= startPubSub().then((started) => {
        running = owned(started, (p) => p.stop());
        progress(`${started.kind} Pub/Sub emulator on ${started.emulatorHost}`);
        return started;
      }));

    return {
      redisUrl: server.url,
      redisPid: server.process.pid as number,
      redis,
      async startGateway(topic, env = {}) {
        const { emulatorHost, projectId } = await emulator();
        signal.throwIfAborted();
        const gatewayEnv = {
          ...common,
          PUBSUB_EMULATOR_HOST: emulatorHost,
          PUBSUB_PROJECT_ID: projectId,
          EXPOSURE_TOPIC: topic,
          ...GATEWAY_BENCH_ENV,
          ...env,
        };
        return owned(await startApp('gateway', gatewayEnv, signal), (app) => app.stop());
      },
      async startIngest(env = {}) {
        return owned(await startApp('ingest', { ...common, ...env }, signal), (app) => app.stop());
      },
      async startBaseline() {
        return owned(await startBaseline(server.url, signal), (baseline) => baseline.stop());
      },
      pubsubKind: () => running?.kind,
      // The Google emulator is a JVM under a launcher script: find it by its port argument.
      emulatorPids: () => (running?.kind === 'google' ? findPids(`--port=${running.emulatorHost.split(':').pop()}`) : []),
      userToken: (userId) => signToken(userId, { secret }),
      producerToken: () => signToken('bench-producer', { secret, scope: Scope.MESSAGES_WRITE }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
