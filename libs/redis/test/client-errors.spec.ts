/**
 * createRedis with a logger: a connection's `error` events go to a child logger (one warning per
 * outage, debug lines for the retries, one line when it is back), not to ioredis's unredacted
 * "Unhandled error event" output. A real redis-server, stopped and started again.
 */
import { createLogger } from '@herald/logger';
import { startRedisServer, waitFor, type RedisServer } from '@herald/testing';
import { closeRedis, createRedis, type HeraldRedis } from '../src';

interface Line {
  level: number;
  msg: string;
  module?: string;
  connection?: string;
  err?: { message: string };
}

const WARN = 40;
const DEBUG = 20;

let server: RedisServer;
let client: HeraldRedis | undefined;

beforeAll(async () => {
  server = await startRedisServer();
}, 30_000);

afterAll(async () => {
  if (client) await closeRedis(client);
  await server?.stop();
});

it('logs a lost connection once as a warning with the connection name, retries as debug, and its return', async () => {
  const lines: Line[] = [];
  const logger = createLogger({ app: 'redis-test', level: 'debug', destination: { write: (l: string) => lines.push(JSON.parse(l) as Line) } });
  client = createRedis({ REDIS_URL: server.url, REDIS_CLUSTER_NODES: undefined }, 'commands', 'errors-test', logger);
  await client.ping();

  await server.stopServer();
  await waitFor(() => lines.filter((l) => l.level === DEBUG && l.module === 'redis').length >= 1, { what: 'a retry logged as debug' });
  const warnings = lines.filter((l) => l.level === WARN);
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatchObject({ module: 'redis', connection: 'errors-test:commands' });
  expect(warnings[0].err?.message).toMatch(/ECONNREFUSED|ECONNRESET|Connection is closed/);

  await server.startServer();
  await waitFor(() => lines.some((l) => l.msg === 'redis connection ready again'), { what: 'the connection back' });
  expect(await client.ping()).toBe('PONG');
  expect(lines.filter((l) => l.level === WARN)).toHaveLength(1);
}, 30_000);
