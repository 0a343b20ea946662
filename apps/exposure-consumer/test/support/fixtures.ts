/** Test fixtures: consumer config against the test's own Postgres and Pub/Sub, events, tokens, SQL counts. */
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import type { Registry } from 'prom-client';
import { loadConsumerConfig, type ConsumerConfig } from '@herald/config';
import { createLogger, type Logger } from '@herald/logger';
import { signToken, TEST_JWT_SECRET } from '@herald/testing';
import type { ExposureEvent } from '@herald/types';

export const silentLogger: Logger = createLogger({ app: 'exposure-consumer-test', level: 'silent' });

export interface TestEnv {
  databaseUrl: string;
  emulatorHost?: string;
  projectId?: string;
}

/** A config with its own topic and subscription names, so test files never share messages. */
export function testConfig(env: TestEnv, overrides: Record<string, string> = {}): ConsumerConfig {
  const suffix = randomUUID().slice(0, 8);
  return loadConsumerConfig({
    DATABASE_URL: env.databaseUrl,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    // Never Google Cloud: an unused client points at a closed port when a test needs no Pub/Sub.
    PUBSUB_EMULATOR_HOST: env.emulatorHost ?? '127.0.0.1:1',
    PUBSUB_PROJECT_ID: env.projectId ?? 'herald-test',
    EXPOSURE_TOPIC: `exposures-${suffix}`,
    EXPOSURE_SUBSCRIPTION: `exposures-consumer-${suffix}`,
    CONSUMER_BATCH_MAX: '50',
    CONSUMER_BATCH_MAX_MS: '20',
    CONSUMER_ACK_DEADLINE_SECONDS: '10',
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: '0',
    ...overrides,
  });
}

let counter = 0;

export function exposure(overrides: Partial<ExposureEvent> = {}): ExposureEvent {
  counter += 1;
  return {
    eventId: `evt-${randomUUID()}`,
    messageId: `msg-${counter}`,
    userId: 'user-1',
    category: null,
    sessionId: 'session-1',
    gatewayId: 'gateway-1',
    deliveredAt: new Date(Date.UTC(2030, 0, 1, 0, 0, 0, counter)).toISOString(),
    via: 'live',
    ...overrides,
  };
}

/**
 * `count` events to seed the store with: eventIds `evt0000`… a permutation of 0…count-1 (i·7 mod
 * count, count not a multiple of 7, so eventId order is not time order and ties on deliveredAt
 * really test the tie-break), messages m0…m{messages-1} in turn, users u0-u4, sessions s0-s5,
 * gateway gw-a, live and offline in turn; `vary` gives each its category and deliveredAt.
 */
export function seedEvents(count: number, messages: number, vary: (i: number) => Pick<ExposureEvent, 'category' | 'deliveredAt'>): ExposureEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    eventId: `evt${String((i * 7) % count).padStart(4, '0')}`,
    messageId: `m${i % messages}`,
    userId: `u${i % 5}`,
    category: vary(i).category,
    sessionId: `s${i % 6}`,
    gatewayId: 'gw-a',
    deliveredAt: vary(i).deliveredAt,
    via: i % 2 ? 'live' : 'offline',
  }));
}

export function analystToken(scope = 'exposures:read'): Promise<string> {
  return signToken('analyst-1', { scope });
}

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/** A pool of the test's own, to look at the tables the way an analyst would. */
export function inspector(databaseUrl: string): Pool {
  const pool = new Pool({ connectionString: databaseUrl, max: 2 });
  pool.on('error', () => undefined);
  return pool;
}

export async function countRows(pool: Pool, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM (${sql}) AS q`, params);
  return Number(rows[0].n);
}

/** A counter's value, read from the app's registry. */
export async function counterValue(registry: Registry, name: string): Promise<number> {
  const { values } = await metricOf(registry, name).get();
  return values.reduce((sum, v) => sum + v.value, 0);
}

/** How many observations a histogram has, for the given labels. */
export async function histogramCount(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const { values } = (await metricOf(registry, name).get()) as { values: Array<{ value: number; labels: Record<string, unknown>; metricName?: string }> };
  return values
    .filter((v) => v.metricName === `${name}_count`)
    .filter((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))
    .reduce((sum, v) => sum + v.value, 0);
}

function metricOf(registry: Registry, name: string) {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name} in the registry`);
  return metric;
}
