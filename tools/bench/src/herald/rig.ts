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
import { stoppers } from './stoppers';

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
  const { own, stop } = stoppers(progress);
  try {
    const redis = own(await startRedisServer(), (r) => r.stop());
    signal.throwIfAborted();
    const pubsub = own(await startPubSub(), (p) => p.stop());
    progress(`redis-server on ${redis.url}, ${pubsub.kind} Pub/Sub emulator on ${pubsub.emulatorHost}`);
    signal.throwIfAborted();
    const client = own(createPubSub({ PUBSUB_PROJECT_ID: pubsub.projectId, PUBSUB_EMULATOR_HOST: pubsub.emulatorHost }), (c) => c.close());
    const common = {
      METADATA_SERVER_DETECTION: 'none',
      LOG_LEVEL: 'warn',
      REDIS_URL: redis.url,
      AUTH_JWT_SECRET: secret,
    };
    const ingest = own(await startApp('ingest', common, signal), (app) => app.stop());
    const producer = new IngestClient(ingest.url, await signToken('bench-producer', { secret, scope: Scope.MESSAGES_WRITE }));
    const gatewayEnv = { ...common, PUBSUB_EMULATOR_HOST: pubsub.emulatorHost, PUBSUB_PROJECT_ID: pubsub.projectId };
    return {
      redis,
      pubsub,
      client,
      ingest,
      producer,
      async startGateway(env) {
        return own(await startApp('gateway', { ...gatewayEnv, ...env }, signal), (app) => app.stop());
      },
      userToken: (userId) => signToken(userId, { secret }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
