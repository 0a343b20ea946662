/**
 * Ingest's commands connection carries only Herald's own commands: BullMQ (scheduled sends)
 * defines its ~50 scripts on the connection its Queue is given, and ioredis copies every script of
 * a connection onto each auto-pipeline, so on the commands connection they would cost every
 * request (docs/BENCHMARKS.md, what issue 17 costs ingest).
 */
import { closeRedis, createRedis, type HeraldRedis } from '@herald/redis';
import { startRedisServer, type RedisServer } from '@herald/testing';
import { createLogger } from '@herald/logger';
import { buildIngest, type Ingest } from '../src/app';
import { bearer, ingestConfig, makeTokens } from './harness';

let server: RedisServer;
let commands: HeraldRedis;
let ingest: Ingest;

beforeAll(async () => {
  server = await startRedisServer();
  const config = ingestConfig(server.url);
  commands = createRedis(config, 'commands', 'connections-test');
  ingest = await buildIngest({ config, logger: createLogger({ app: 'ingest', level: 'silent' }), redis: commands });
});

afterAll(async () => {
  await ingest?.close();
  if (commands) await closeRedis(commands);
  await server?.stop();
});

it('schedules a message without defining any script on the commands connection', async () => {
  const tokens = await makeTokens();
  const sendAt = new Date(Date.now() + 3600_000).toISOString();
  const res = await ingest.app.inject({
    method: 'POST',
    url: '/v1/messages',
    headers: bearer(tokens.messages),
    payload: { userIds: ['later'], payload: 1, sendAt },
  });
  expect(res.statusCode).toBe(202);
  expect(Object.keys((commands as unknown as { scriptsSet: object }).scriptsSet)).toEqual([]);
});
