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

  it('parses booleans and refuses anything else', () => {
    expect(loadIngestConfig(secret).FANOUT_WORKER).toBe(true);
    expect(loadIngestConfig({ ...secret, FANOUT_WORKER: 'off' }).FANOUT_WORKER).toBe(false);
    expect(loadIngestConfig({ ...secret, FANOUT_WORKER: 'TRUE' }).FANOUT_WORKER).toBe(true);
    expect(problem(() => loadIngestConfig({ ...secret, FANOUT_WORKER: 'maybe' })).variable).toBe('FANOUT_WORKER');
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
