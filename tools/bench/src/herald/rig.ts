/**
 * The parts of Herald a scenario drives, on loopback only: a private redis-server, a private
 * Pub/Sub emulator (Google's where installed, see @herald/testing startPubSub), ingest as a
 * process, and gateways as processes started on demand with the settings under test.
 */
import { randomBytes } from 'node:crypto';
import type { PubSub } from '@google-cloud/pubsub';
import { createPubSub } from '@herald/pubsub';
import { signToken, startPubSub, startRedisServer, type RedisServer, type RunningPubSub } from '@herald/testing';
import { Scope } from '@herald/types';
import { startApp, type AppProcess } from './app-process';
import { IngestClient } from './ingest-client';

export interface Rig {
  redis: RedisServer;
  pubsub: RunningPubSub;
  /** A Pub/Sub client of the bench's own, on the emulator. */
  client: PubSub;
  ingest: AppProcess;
  producer: IngestClient;
  /** A gateway process with `env` on top of the rig's settings; stop it when done. */
  startGateway(env: Record<string, string>): Promise<AppProcess>;
  /** A user token the gateway accepts. */
  userToken(userId: string): Promise<string>;
  /** Stops everything the rig started, each step even if another fails; twice is a no-op. */
  stop(): Promise<void>;
}

export async function startRig(signal: AbortSignal, progress: (line: string) => void): Promise<Rig> {
  const secret = `bench-${randomBytes(24).toString('hex')}`;
  const stops: Array<() => Promise<unknown>> = [];
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      const failures: unknown[] = [];
      for (const step of stops.reverse()) await step().catch((err: unknown) => failures.push(err));
      if (failures.length > 0) progress(`stopping the rig: ${failures.map(String).join('; ')}`);
    })());
  try {
    const redis = await startRedisServer();
    stops.push(() => redis.stop());
    signal.throwIfAborted();
    const pubsub = await startPubSub();
    stops.push(() => pubsub.stop());
    progress(`redis-server on ${redis.url}, ${pubsub.kind} Pub/Sub emulator on ${pubsub.emulatorHost}`);
    signal.throwIfAborted();
    const client = createPubSub({ PUBSUB_PROJECT_ID: pubsub.projectId, PUBSUB_EMULATOR_HOST: pubsub.emulatorHost });
    stops.push(() => client.close());
    const common = {
      METADATA_SERVER_DETECTION: 'none',
      LOG_LEVEL: 'warn',
      REDIS_URL: redis.url,
      AUTH_JWT_SECRET: secret,
    };
    const ingest = await startApp('ingest', common, signal);
    stops.push(() => ingest.stop());
    const producer = new IngestClient(ingest.url, await signToken('bench-producer', { secret, scope: Scope.MESSAGES_WRITE }));
    const gatewayEnv = { ...common, PUBSUB_EMULATOR_HOST: pubsub.emulatorHost, PUBSUB_PROJECT_ID: pubsub.projectId };
    return {
      redis,
      pubsub,
      client,
      ingest,
      producer,
      async startGateway(env) {
        const gateway = await startApp('gateway', { ...gatewayEnv, ...env }, signal);
        stops.push(() => gateway.stop());
        return gateway;
      },
      userToken: (userId) => signToken(userId, { secret }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
