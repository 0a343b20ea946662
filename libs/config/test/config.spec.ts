import {
  IDEMPOTENCY_DEFAULT_TTL_SECONDS,
  INBOX_DEFAULT_CAP,
  MESSAGE_DEFAULT_TTL_SECONDS,
  MESSAGE_MAX_TTL_DEFAULT_SECONDS,
} from '@herald/types';
import { loadGatewayConfig, loadIngestConfig, loadConsumerConfig, ConfigError } from '../src';

const secret = { AUTH_JWT_SECRET: 'x'.repeat(32) };

function problem(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('no error');
}

describe('config', () => {
  it('applies the Contract defaults and freezes the result', () => {
    const gateway = loadGatewayConfig(secret);
    expect(gateway.PORT).toBe(8080);
    expect(gateway.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(gateway.EXPOSURE_TOPIC).toBe('exposures');
    expect(Object.isFrozen(gateway)).toBe(true);
    expect(loadIngestConfig(secret).PORT).toBe(8081);
    expect(loadConsumerConfig(secret).PORT).toBe(8082);
    expect(loadConsumerConfig(secret).DATABASE_URL).toBeUndefined();
  });

  it('names the variable when a value is bad', () => {
    expect(problem(() => loadGatewayConfig({ ...secret, PORT: 'eighty' })).variable).toBe('PORT');
    expect(problem(() => loadGatewayConfig({ ...secret, REDIS_URL: 'http://x' })).variable).toBe('REDIS_URL');
    expect(problem(() => loadGatewayConfig({ ...secret, LOG_LEVEL: 'loud' })).variable).toBe('LOG_LEVEL');
    expect(problem(() => loadGatewayConfig({ ...secret, REDIS_CLUSTER_NODES: 'a:1,b' })).variable).toBe('REDIS_CLUSTER_NODES');
    expect(problem(() => loadConsumerConfig({ ...secret, DATABASE_URL: 'mysql://x' })).variable).toBe('DATABASE_URL');
    expect(problem(() => loadIngestConfig({})).message).toMatch(/AUTH_JWT_SECRET.*AUTH_JWKS_URL/);
    expect(problem(() => loadIngestConfig({ AUTH_JWT_SECRET: 'short' })).variable).toBe('AUTH_JWT_SECRET');
    // A development secret is refused in production (the images set NODE_ENV=production), not elsewhere.
    const devSecret = `dev-only-${'a'.repeat(40)}`;
    expect(problem(() => loadGatewayConfig({ AUTH_JWT_SECRET: devSecret, NODE_ENV: 'production' })).message).toMatch(/development secret/);
    expect(loadGatewayConfig({ AUTH_JWT_SECRET: devSecret }).AUTH_JWT_SECRET).toBe(devSecret);
  });

  it('parses cluster nodes', () => {
    expect(loadGatewayConfig({ ...secret, REDIS_CLUSTER_NODES: '10.0.0.1:7000, 10.0.0.2:7001' }).REDIS_CLUSTER_NODES).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
    ]);
  });

  it('takes the test-only clock offset outside production only', () => {
    expect(loadGatewayConfig(secret).HERALD_TEST_CLOCK_OFFSET_MS).toBe(0);
    expect(loadGatewayConfig({ ...secret, HERALD_TEST_CLOCK_OFFSET_MS: '-25000' }).HERALD_TEST_CLOCK_OFFSET_MS).toBe(-25_000);
    const refused = problem(() => loadGatewayConfig({ ...secret, HERALD_TEST_CLOCK_OFFSET_MS: '25000', NODE_ENV: 'production' }));
    expect(refused.variable).toBe('HERALD_TEST_CLOCK_OFFSET_MS');
    expect(refused.message).toMatch(/tests only/);
  });
});

describe('variables that bound one another (checked at load, so a config that loads is one that runs)', () => {
  it('refuses a default TTL above the maximum, naming the variable', () => {
    const refused = problem(() => loadIngestConfig({ ...secret, MESSAGE_DEFAULT_TTL_SECONDS: '7200', MESSAGE_MAX_TTL_SECONDS: '3600' }));
    expect(refused.variable).toBe('MESSAGE_DEFAULT_TTL_SECONDS');
    expect(refused.message).toMatch(/must not exceed MESSAGE_MAX_TTL_SECONDS \(3600\), got 7200/);
    expect(loadIngestConfig({ ...secret, MESSAGE_DEFAULT_TTL_SECONDS: '3600', MESSAGE_MAX_TTL_SECONDS: '3600' }).MESSAGE_DEFAULT_TTL_SECONDS).toBe(3600);
  });

  it('checks the relation when only one of the two is set (against the other one\'s default)', () => {
    // A default TTL of 31 days against the maximum's default (30 days); a maximum of an hour
    // against the default TTL's default (7 days).
    expect(problem(() => loadIngestConfig({ ...secret, MESSAGE_DEFAULT_TTL_SECONDS: String(31 * 86_400) })).variable).toBe(
      'MESSAGE_DEFAULT_TTL_SECONDS',
    );
    expect(problem(() => loadIngestConfig({ ...secret, MESSAGE_MAX_TTL_SECONDS: '3600' })).variable).toBe('MESSAGE_DEFAULT_TTL_SECONDS');
  });

  it('refuses an idempotency lease as long as the key is remembered, naming the lease', () => {
    const refused = problem(() => loadIngestConfig({ ...secret, IDEMPOTENCY_TTL_SECONDS: '60', IDEMPOTENCY_LEASE_MS: '60000' }));
    expect(refused.variable).toBe('IDEMPOTENCY_LEASE_MS');
    expect(refused.message).toMatch(/shorter than IDEMPOTENCY_TTL_SECONDS \(60 s\), got 60000 ms/);
    expect(loadIngestConfig({ ...secret, IDEMPOTENCY_TTL_SECONDS: '60', IDEMPOTENCY_LEASE_MS: '59999' }).IDEMPOTENCY_LEASE_MS).toBe(59_999);
  });

  it('refuses a per-endpoint webhook bound that would let one endpoint take every slot, and reads the allow-list', () => {
    const refused = problem(() => loadIngestConfig({ ...secret, WEBHOOK_CONCURRENCY: '4', WEBHOOK_ENDPOINT_CONCURRENCY: '4' }));
    expect(refused.variable).toBe('WEBHOOK_ENDPOINT_CONCURRENCY');
    expect(refused.message).toMatch(/less than WEBHOOK_CONCURRENCY \(4\), got 4/);
    const config = loadIngestConfig({ ...secret, WEBHOOK_CONCURRENCY: '4', WEBHOOK_ENDPOINT_CONCURRENCY: '3', WEBHOOK_ALLOWED_HOSTS: '127.0.0.1:9000,localhost:9000' });
    expect(config.WEBHOOK_ALLOWED_HOSTS).toEqual([{ host: '127.0.0.1', port: 9000 }, { host: 'localhost', port: 9000 }]);
    expect(config.WEBHOOK_DISPATCHER).toBe(false);
    expect(problem(() => loadIngestConfig({ ...secret, WEBHOOK_ALLOWED_HOSTS: 'http://x:1' })).variable).toBe('WEBHOOK_ALLOWED_HOSTS');
  });

  it('takes its defaults from the Contract table in @herald/types', () => {
    const ingest = loadIngestConfig(secret);
    expect(ingest.MESSAGE_DEFAULT_TTL_SECONDS).toBe(MESSAGE_DEFAULT_TTL_SECONDS);
    expect(ingest.MESSAGE_MAX_TTL_SECONDS).toBe(MESSAGE_MAX_TTL_DEFAULT_SECONDS);
    expect(ingest.INBOX_CAP).toBe(INBOX_DEFAULT_CAP);
    expect(ingest.IDEMPOTENCY_TTL_SECONDS).toBe(IDEMPOTENCY_DEFAULT_TTL_SECONDS);
    expect([MESSAGE_DEFAULT_TTL_SECONDS, INBOX_DEFAULT_CAP, IDEMPOTENCY_DEFAULT_TTL_SECONDS]).toEqual([604_800, 1000, 86_400]);
  });
});
