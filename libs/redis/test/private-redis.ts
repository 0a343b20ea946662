/**
 * A private redis-server and a commands connection to it, for one test file: started before its
 * tests, both closed after them. `use` receives them once started.
 */
import { startRedisServer, type RedisServer } from '@herald/testing';
import { closeRedis, createRedis, type HeraldRedis } from '../src';

export function usePrivateRedis(name: string, use: (server: RedisServer, redis: HeraldRedis) => void): void {
  let server: RedisServer | undefined;
  let redis: HeraldRedis | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
    redis = createRedis({ REDIS_URL: server.url, REDIS_CLUSTER_NODES: undefined }, 'commands', name);
    use(server, redis);
  });
  afterAll(async () => {
    if (redis) await closeRedis(redis);
    await server?.stop();
  });
}
