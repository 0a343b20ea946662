/**
 * An in-process gateway on a private Redis and a real Pub/Sub emulator, plus what a test needs
 * around it: a producer that writes messages the way ingest does, and a collector of the
 * exposure events the gateway publishes.
 */
import { randomUUID } from 'node:crypto';
import type { Message as PubSubMessage, Subscription } from '@google-cloud/pubsub';
import { loadGatewayConfig, type GatewayConfig } from '@herald/config';
import { createLogger } from '@herald/logger';
import { createPubSub, ensureSubscription } from '@herald/pubsub';
import {
  createRedis,
  deliverToUser,
  messageNote,
  refNote,
  storeMessage,
  replaceUserCategories,
  closeRedis,
  type HeraldRedis,
} from '@herald/redis';
import type { ExposureEvent } from '@herald/types';
import {
  fetchMetric,
  startPubSub,
  startRedisServer,
  signToken,
  TEST_JWT_SECRET,
  type RedisServer,
  type RunningPubSub,
} from '@herald/testing';
import { buildGateway, type Gateway } from '../src/gateway';

process.env.METADATA_SERVER_DETECTION = 'none';

/** Inboxes as ingest writes them: capped, alive an hour after the last write. */
const INBOX = { cap: 1000, inboxTtlSeconds: 3600 };

export interface Harness {
  gateway: Gateway;
  config: GatewayConfig;
  wsUrl: string;
  httpUrl: string;
  /** The admin server (ADMIN_PORT): /metrics and the detailed /readyz. */
  adminUrl: string;
  redis: HeraldRedis;
  redisServer: RedisServer;
  pubsubServer: RunningPubSub;
  exposures: ExposureEvent[];
  /** Write a message the way ingest does: body with TTL, then the atomic inbox append + notify. */
  send(userIds: string[], payload: unknown, opts?: { ttlMs?: number; id?: string }): Promise<string>;
  /**
   * Write a category message the way a fan-out job does: body with TTL, then per member the
   * atomic inbox append + a reference note (the gateway reads the body).
   */
  sendToCategory(category: string, userIds: string[], payload: unknown): Promise<string>;
  setCategories(userId: string, categories: string[]): Promise<void>;
  /** A counter or gauge from the gateway's admin /metrics (one labelled series when given); 0 when absent. */
  metric(name: string, labels?: string): Promise<number>;
  token(userId: string, opts?: Parameters<typeof signToken>[1]): Promise<string>;
  close(): Promise<void>;
}

export async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  const redisServer = await startRedisServer();
  const pubsubServer = await startPubSub();
  const topicName = `exposures-${randomUUID().slice(0, 8)}`;
  const config = loadGatewayConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    ADMIN_PORT: '0',
    LOG_LEVEL: 'silent',
    REDIS_URL: redisServer.url,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    AUTH_CLOCK_TOLERANCE_SECONDS: '0',
    PUBSUB_PROJECT_ID: pubsubServer.projectId,
    PUBSUB_EMULATOR_HOST: pubsubServer.emulatorHost,
    EXPOSURE_TOPIC: topicName,
    EXPOSURE_BATCH_MAX_MS: '5',
    ...env,
  });
  const pubsub = createPubSub(config);
  const subscription: Subscription = await ensureSubscription(pubsub, topicName, `check-${topicName}`, 30);
  const exposures: ExposureEvent[] = [];
  subscription.on('message', (m: PubSubMessage) => {
    exposures.push(JSON.parse(m.data.toString()) as ExposureEvent);
    m.ack();
  });
  subscription.on('error', () => undefined);

  const logger = createLogger({ app: 'gateway-test', level: 'silent' });
  const gateway = await buildGateway({ config, logger });
  const httpUrl = await gateway.listen();
  const adminUrl = gateway.adminUrl!;
  const redis = createRedis(config, 'commands', 'test');

  return {
    gateway,
    config,
    httpUrl,
    adminUrl,
    wsUrl: `${httpUrl.replace(/^http/, 'ws')}/ws`,
    redis,
    redisServer,
    pubsubServer,
    exposures,
    async send(userIds, payload, opts = {}) {
      const id = opts.id ?? randomUUID();
      const message = {
        id,
        category: null,
        payload,
        createdAt: new Date().toISOString(),
        expiresAt: Date.now() + (opts.ttlMs ?? 60_000),
      };
      const encoded = await storeMessage(redis, message);
      for (const userId of userIds) await deliverToUser(redis, userId, id, messageNote(encoded), INBOX);
      return id;
    },
    async sendToCategory(category, userIds, payload) {
      const id = randomUUID();
      const now = Date.now();
      await storeMessage(redis, { id, category, payload, createdAt: new Date(now).toISOString(), expiresAt: now + 60_000 });
      for (const userId of userIds) await deliverToUser(redis, userId, id, refNote(id), { ...INBOX, unique: true });
      return id;
    },
    setCategories: (userId, categories) => replaceUserCategories(redis, userId, categories),
    metric: (name, labels) => fetchMetric(adminUrl, name, labels),
    token: (userId, opts) => signToken(userId, opts),
    async close() {
      await gateway.close();
      await subscription.close();
      await pubsub.close();
      await closeRedis(redis);
      await pubsubServer.stop();
      await redisServer.stop();
    },
  };
}
