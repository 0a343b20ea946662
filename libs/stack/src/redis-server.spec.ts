import { existsSync } from 'node:fs';
import Redis from 'ioredis';
import { startRedisServer, type RedisServer } from './redis-server';

describe('startRedisServer', () => {
  const servers: RedisServer[] = [];
  const clients: Redis[] = [];
  const start = async (...args: Parameters<typeof startRedisServer>) => {
    const server = await startRedisServer(...args);
    servers.push(server);
    return server;
  };
  const connect = (server: RedisServer) => {
    // Reconnects quickly after a restart; a command while the server is away fails at once.
    const client = new Redis(server.url, { maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  };
  /**
   * The client back on a restarted server. Asked sooner, a command can meet a reconnect attempt
   * that began while the server was down, and fails at once (maxRetriesPerRequest 0).
   */
  const reconnected = async (client: Redis) => {
    // Not events.once: it would reject on the 'error' a refused reconnect attempt emits.
    if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
    return client;
  };

  afterAll(async () => {
    await Promise.all(clients.map((client) => (client.status === 'end' ? undefined : client.quit())));
    await Promise.all(servers.map((s) => s.stop()));
  });

  test('persistent: keeps every write and its URL across restart(), fsynced AOF in its own dir', async () => {
    const server = await start({ persistent: true });
    expect(server.persistent).toBe(true);
    const client = connect(server);
    expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    expect(await client.config('GET', 'appendfsync')).toEqual(['appendfsync', 'always']);
    const [, dir] = (await client.config('GET', 'dir')) as string[];
    await client.rpush('list', 'a', 'b', 'c');
    const firstPid = server.process.pid;

    await server.stopServer();
    await expect(client.get('x')).rejects.toThrow();
    await server.startServer();

    expect(server.process.pid).not.toBe(firstPid);
    expect(await (await reconnected(client)).lrange('list', 0, -1)).toEqual(['a', 'b', 'c']);
    await server.restart();
    expect(await (await reconnected(client)).lrange('list', 0, -1)).toEqual(['a', 'b', 'c']);

    await client.quit();
    await server.stop();
    expect(existsSync(dir)).toBe(false);
    await expect(server.startServer()).rejects.toThrow(/stopped with stop\(\)/);
    await server.stop(); // idempotent
  }, 30_000);

  test('by default keeps nothing: a restart comes back empty', async () => {
    const server = await start();
    expect(server.persistent).toBe(false);
    const client = connect(server);
    expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
    await client.set('k', 'v');
    await server.restart();
    expect(await (await reconnected(client)).get('k')).toBeNull();
  }, 30_000);

  test('passes extra arguments after its own', async () => {
    const server = await start({ args: ['--maxmemory-policy', 'noeviction'] });
    expect(await connect(server).config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
  });
});
