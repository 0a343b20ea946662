/** The service around the routes: health, readiness, docs, metrics, close (config checks: libs/config). */
import { createLogger } from '@herald/logger';
import { createRedis } from '@herald/redis';
import { startRedisServer, waitFor, type RedisServer } from '@herald/testing';
import { buildIngest, type Ingest } from '../src/app';
import { expectRefusal, ingestConfig, startIngest } from './harness';

let server: RedisServer;

beforeAll(async () => {
  server = await startRedisServer();
});

afterAll(async () => {
  await server?.stop();
});

describe('a running ingest', () => {
  let ingest: Ingest;

  beforeAll(async () => {
    ingest = await startIngest(ingestConfig(server.url));
  });

  afterAll(async () => {
    await ingest?.close();
  });

  /** A GET's status and JSON body. */
  async function answer(url: string): Promise<{ status: number; body: unknown }> {
    const res = await ingest.app.inject({ method: 'GET', url });
    return { status: res.statusCode, body: res.json() };
  }

  it('/healthz answers 200', async () => {
    expect(await answer('/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it('/readyz is 503 until listening, then 200 with Redis reachable', async () => {
    const before = await ingest.app.inject({ method: 'GET', url: '/readyz' });
    expect(before.statusCode).toBe(503);

    await ingest.app.listen({ host: '127.0.0.1', port: 0 });
    expect(await answer('/readyz')).toEqual({ status: 200, body: { status: 'ready' } });
  });

  it('/docs/json describes both routes with bearer auth and their schemas', async () => {
    const res = await ingest.app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    const send = doc.paths['/v1/messages'].post;
    expect(send.security).toEqual([{ bearer: [] }]);
    expect(Object.keys(send.requestBody.content['application/json'].schema.properties).sort()).toEqual([
      'category',
      'notification',
      'payload',
      'replaceKey',
      'sendAt',
      'ttlSeconds',
      'urgency',
      'userIds',
    ]);
    const notification = send.requestBody.content['application/json'].schema.properties.notification;
    expect(Object.keys(notification.properties).sort()).toEqual(['body', 'icon', 'tag', 'title', 'url']);
    expect(notification.description).toContain('docs/WEBPUSH.md');
    expect(send.requestBody.content['application/json'].schema.properties.replaceKey.description).toContain('"replaces"');
    expect(Object.keys(send.responses)).toEqual(expect.arrayContaining(['202', '400', '401', '403', '413']));
    const status = doc.paths['/v1/messages/{id}'].get;
    expect(status.security).toEqual([{ bearer: [] }]);
    expect(status.responses['200'].content['application/json'].schema.properties.state.enum).toEqual(['scheduled', 'sent', 'recalled']);
    expect(Object.keys(status.responses)).toEqual(expect.arrayContaining(['200', '403', '404']));
    const categories = doc.paths['/v1/users/{userId}/categories'];
    expect(categories.put.responses).toHaveProperty('204');
    expect(categories.get.responses).toHaveProperty('200');
    expect(categories.get.description).toContain('categories:write');
    expect(doc.paths).not.toHaveProperty('/healthz');
  });

  it('/metrics serves the ingest counters', async () => {
    const res = await ingest.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('# TYPE herald_messages_accepted_total counter');
    expect(res.body).toContain('# TYPE herald_inbox_dropped_total counter');
    expect(res.body).toContain('# TYPE herald_replaced_total counter');
  });

  it('an unknown route gets the Contract error body', async () => {
    const res = await ingest.app.inject({ method: 'GET', url: '/v1/nothing' });
    expectRefusal(res, 404, 'NOT_FOUND');
  });
});

describe('readiness', () => {
  it('/readyz is 503 naming redis when Redis does not answer', async () => {
    const config = ingestConfig(server.url);
    const redis = createRedis(config, 'commands', 'readiness-test');
    redis.disconnect(); // closed for good: every command now fails at once
    const ingest = await buildIngest({ config, logger: createLogger({ app: 'ingest', level: 'silent' }), redis });
    try {
      await ingest.app.listen({ host: '127.0.0.1', port: 0 });
      const res = await ingest.app.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.json().failed).toHaveProperty('redis');
    } finally {
      await ingest.close();
    }
  });
});

describe('close', () => {
  it('is idempotent and quits the Redis connection ingest made', async () => {
    const ingest = await startIngest(ingestConfig(server.url));
    await waitFor(async () => (await countIngestClients()) === 1, { what: "ingest's Redis connection" });

    const first = ingest.close();
    expect(ingest.close()).toBe(first);
    await first;
    await ingest.close();
    await waitFor(async () => (await countIngestClients()) === 0, { what: "ingest's Redis connection to go" });
  });

  it('leaves a Redis connection it was given to its owner', async () => {
    const config = ingestConfig(server.url);
    const redis = createRedis(config, 'commands', 'owner-test');
    try {
      const ingest = await buildIngest({ config, logger: createLogger({ app: 'ingest', level: 'silent' }), redis });
      await ingest.close();
      expect(await redis.ping()).toBe('PONG');
    } finally {
      redis.disconnect();
    }
  });
});

/** Connections named `ingest:commands` (createRedis names them) currently open on the server. */
async function countIngestClients(): Promise<number> {
  const probe = createRedis(ingestConfig(server.url), 'commands', 'probe');
  try {
    const list = (await probe.client('LIST')) as string;
    return list.split('\n').filter((line) => line.includes('name=ingest:commands')).length;
  } finally {
    probe.disconnect();
  }
}
