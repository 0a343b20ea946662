/**
 * What the exposure stage tests share: a private redis-server (or a Cluster's nodes), the real
 * Pub/Sub emulator with a fresh topic and a subscription that collects what it receives, and the
 * gateway's metrics on their own registry.
 */
import { randomUUID } from 'node:crypto';
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import { Registry } from 'prom-client';
import { createLogger, type Logger } from '@herald/logger';
import { BatchPublisher, createPubSub, ensureSubscription } from '@herald/pubsub';
import { closeRedis, createRedis, type HeraldRedis } from '@herald/redis';
import { topicEvents, metricValue, startPubSub, type RunningPubSub } from '@herald/testing';
import { createGatewayMetrics, type GatewayMetrics } from '../src/metrics';

export const silent: Logger = createLogger({ app: 'gateway-test', level: 'silent' });

export interface Metrics {
  metrics: GatewayMetrics;
  /** herald_exposures_published_total for one outcome. */
  outcome(name: string): Promise<number>;
  value(name: string, labels?: string): Promise<number>;
}

export function newMetrics(): Metrics {
  const registry = new Registry();
  const metrics = createGatewayMetrics(registry);
  const value = async (name: string, labels = '') => metricValue(await registry.metrics(), name, labels);
  return { metrics, value, outcome: (name) => value('herald_exposures_published_total', `outcome="${name}"`) };
}

/** Connections by role to one redis-server (`url`) or a Cluster (`nodes`: host:port,…). */
export function connect(where: { url?: string; nodes?: string }, role: 'commands' | 'log'): HeraldRedis {
  const nodes = where.nodes?.split(',').map((node) => {
    const [host, port] = node.split(':');
    return { host, port: Number(port) };
  });
  return createRedis({ REDIS_URL: where.url, REDIS_CLUSTER_NODES: nodes }, role, 'test');
}

export interface TopicRig {
  server: RunningPubSub;
  pubsub: PubSub;
  /** Publishes to the fresh topic. */
  topic: BatchPublisher;
  /** The JSON of every event the subscription received (a message may hold several). */
  received: string[];
  close(): Promise<void>;
}

/** The emulator with a fresh topic, a publisher to it and its subscription. */
export async function startTopic(): Promise<TopicRig> {
  const server = await startPubSub();
  const pubsub = createPubSub({ PUBSUB_PROJECT_ID: server.projectId, PUBSUB_EMULATOR_HOST: server.emulatorHost });
  const name = `stage-${randomUUID().slice(0, 8)}`;
  const subscription: Subscription = await ensureSubscription(pubsub, name, `check-${name}`, 30);
  const received: string[] = [];
  subscription.on('message', (m: Message) => {
    for (const { data } of topicEvents(m)) received.push(JSON.stringify(data));
    m.ack();
  });
  subscription.on('error', () => undefined);
  const topic = new BatchPublisher(pubsub, name);
  return {
    server,
    pubsub,
    topic,
    received,
    async close() {
      server.resume();
      await subscription.close();
      await topic.close();
      await pubsub.close();
      await server.stop();
    },
  };
}

export { closeRedis };
