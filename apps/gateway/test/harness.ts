/**
 * An in-process gateway on a private Redis and a real Pub/Sub emulator, plus what a test needs
 * around it: a producer that writes messages through ingest's own write protocol (@herald/redis
 * `sendToUsers`, `publishToCategory`), and a collector of the exposure events the gateway publishes.
 */
import { randomUUID } from 'node:crypto';
import type { Message as PubSubMessage, Subscription } from '@google-cloud/pubsub';
import { loadGatewayConfig, type GatewayConfig } from '@herald/config';
import { createLogger } from '@herald/logger';
import { createPubSub, ensureSubscription } from '@herald/pubsub';
import {
  createRedis,
  newMessage,
  sendToUsers,
  replaceUserCategories,
  publishToCategory,
  closeRedis,
  type HeraldRedis,
} from '@herald/redis';
import { EVENT_KIND_ATTRIBUTE, INBOX_DEFAULT_CAP, type ExposureEvent } from '@herald/types';
import {
  topicEvents,
  fetchMetric,
  startPubSub,
  startRedisServer,
  signToken,
  TEST_JWT_SECRET,
  type RedisServer,
  type RunningPubSub,
  type TopicEvent,
} from '@herald/testing';
import { buildGateway, type Gateway } from '../src/gateway';

process.env.METADATA_SERVER_DETECTION = 'none';

/** Inboxes as ingest writes them by default: capped, alive an hour after the last write. */
const INBOX = { cap: INBOX_DEFAULT_CAP, inboxTtlSeconds: 3600 };
/** Lifetime of a test message unless a test says otherwise. */
const TTL_MS = 60_000;

/** An event the topic received: its JSON, and its message's attributes (but the count of events). */
export type ReceivedEvent = TopicEvent;

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
  /** The exposures on the topic (events without the attribute `kind`). */
  exposures: ExposureEvent[];
  /** Every event on the topic, exposures and the other kinds (libs/types events.ts), with its attributes. */
  received: ReceivedEvent[];
  /** Send a message to users as ingest does (`sendToUsers`: body with TTL, then per user the atomic deliver). */
  send(userIds: string[], payload: unknown, opts?: { ttlMs?: number; id?: string; replaceKey?: string }): Promise<string>;
  /** A category message as ingest sends it: stored once, in the category's log. */
  publish(category: string, payload: unknown, opts?: { ttlMs?: number; replaceKey?: string }): Promise<string>;
  setCategories(userId: string, categories: string[]): Promise<void>;
  /** A counter or gauge from the gateway's admin /metrics (one labelled series when given); 0 when absent. */
  metric(name: string, labels?: string): Promise<number>;
  token(userId: string, opts?: Parameters<typeof signToken>[1]): Promise<string>;
  /** Another gateway on the same Redis and Pub/Sub, with `overrides` over this one's config; the caller closes it. */
  startGateway(overrides?: Partial<GatewayConfig>): Promise<{ gateway: Gateway; url: string; wsUrl: string }>;
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
  const received: ReceivedEvent[] = [];
  subscription.on('message', (m: PubSubMessage) => {
    for (const event of topicEvents(m)) {
      received.push(event);
      if (event.attributes[EVENT_KIND_ATTRIBUTE] === undefined) exposures.push(event.data as unknown as ExposureEvent);
    }
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
    received,
    async send(userIds, payload, opts = {}) {
      const message = newMessage({ payload, ttlMs: opts.ttlMs ?? TTL_MS, id: opts.id, replaceKey: opts.replaceKey });
      await sendToUsers(redis, message, userIds, INBOX);
      return message.id;
    },
    async publish(category, payload, opts = {}) {
      const message = newMessage({ payload, ttlMs: opts.ttlMs ?? TTL_MS, category, replaceKey: opts.replaceKey });
      await publishToCategory(redis, message, category, { cap: INBOX.cap, lifetimeSeconds: INBOX.inboxTtlSeconds });
      return message.id;
    },
    setCategories: (userId, categories) => replaceUserCategories(redis, userId, categories),
    metric: (name, labels) => fetchMetric(adminUrl, name, labels),
    token: (userId, opts) => signToken(userId, opts),
    async startGateway(overrides = {}) {
      const other = await buildGateway({ config: { ...config, ...overrides }, logger });
      const url = await other.listen();
      return { gateway: other, url, wsUrl: `${url.replace(/^http/, 'ws')}/ws` };
    },
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

/**
 * One harness shared by the tests of a file (or of the describe block it is called in): started
 * before the first of them, closed after the last. The object returned is filled in by that
 * beforeAll, so read it inside tests and hooks only.
 */
export function sharedHarness(env: Record<string, string> = {}): Harness {
  const h = {} as Harness;
  beforeAll(async () => {
    Object.assign(h, await startHarness(env));
  }, 60_000);
  afterAll(async () => {
    await h.close?.();
  }, 30_000);
  return h;
}
