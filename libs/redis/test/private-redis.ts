/**
 * A private redis-server and a commands connection to it, for one test file: started before its
 * tests, both closed after them. `use` receives them once started. And a recorder of the notes
 * users' channels receive.
 */
import Redis from 'ioredis';
import { startRedisServer, type RedisServer } from '@herald/testing';
import { closeRedis, createRedis, keys, parseNotification, type HeraldRedis, type Notification } from '../src';

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

/**
 * usePrivateRedis, plus a subscriber that keeps every note a user's channel receives in `notes`
 * (per user id) once the returned `listen` has subscribed to it; `use` receives the commands
 * connection.
 */
export function useNoteRecorder(
  name: string,
  notes: Map<string, Notification[]>,
  use: (redis: HeraldRedis) => void,
): (userIds: readonly string[]) => Promise<void> {
  let sub: Redis | undefined;
  afterAll(() => sub?.disconnect());
  usePrivateRedis(name, (server, commands) => {
    use(commands);
    sub = new Redis(server.url);
    sub.on('smessage', (channel: string, raw: string) => {
      const userId = keys.userOfChannel(channel)!;
      notes.set(userId, [...(notes.get(userId) ?? []), parseNotification(raw)!]);
    });
  });
  return async (userIds) => {
    await sub!.ssubscribe(...userIds.map(keys.userChannel));
  };
}
