/**
 * The api-floor scenario's servers: what a Node process costs per request before Herald's own
 * work, answering `POST /v1/messages` as ingest does for one message (202 `{"id"}`) and `POST
 * /v1/messages/batch` as it does for a batch (200 `{"results":[{"id"}…]}`), driven by the same
 * producer (workers/api-producer.ts). The bearer token is not verified (ingest's verified-token
 * cache makes it a map lookup):
 * - `http`: node:http, the body read and parsed;
 * - `fastify`: Fastify with a JSON schema for the body (ingest's framework);
 * - `fastify-redis`: that, plus the least a stored message needs: its body written (SET … PX) and
 *   its id appended to the user's list (RPUSH), on one auto-pipelined ioredis connection; for a
 *   batch, both for every message, all in the same turn.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import Redis from 'ioredis';
import { serveRequests } from './protocol';

export type FloorKind = 'http' | 'fastify' | 'fastify-redis';
export type FloorRequest = { type: 'listen'; kind: FloorKind; redisUrl: string };

const BODY_SCHEMA = {
  type: 'object',
  required: ['userIds', 'payload'],
  properties: { userIds: { type: 'array', minItems: 1, items: { type: 'string' } }, payload: {}, ttlSeconds: { type: 'integer', minimum: 1 } },
} as const;

const BATCH_SCHEMA = {
  type: 'object',
  required: ['messages'],
  properties: { messages: { type: 'array', minItems: 1, maxItems: 500, items: BODY_SCHEMA } },
} as const;

type Body = { userIds: string[]; payload: unknown; ttlSeconds?: number };

const BATCH_PATH = '/v1/messages/batch';

/** A batch's answer: an id for every message, in order. */
const resultsOf = (messages: readonly unknown[]) => ({ results: messages.map(() => ({ id: randomUUID() })) });

function listenHttp(): Promise<number> {
  const server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      const body = JSON.parse(text) as { messages?: unknown[] };
      if (req.url === BATCH_PATH) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(resultsOf(body.messages ?? [])));
      else res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ id: randomUUID() }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

async function listenFastify(redisUrl: string | null): Promise<number> {
  const redis = redisUrl ? new Redis(redisUrl, { connectionName: 'floor', enableAutoPipelining: true }) : null;
  const app = Fastify({ logger: false });
  const store = (id: string, body: Body) =>
    redis
      ? Promise.all([
          redis.set(`floor:msg:{${id}}`, JSON.stringify(body.payload), 'PX', (body.ttlSeconds ?? 60) * 1000),
          redis.rpush(`floor:inbox:{${body.userIds[0]}}`, id),
        ])
      : undefined;
  app.post('/v1/messages', { schema: { body: BODY_SCHEMA } }, async (req, reply) => {
    const id = randomUUID();
    await store(id, req.body as Body);
    return reply.code(202).send({ id });
  });
  app.post(BATCH_PATH, { schema: { body: BATCH_SCHEMA } }, async (req, reply) => {
    const { messages } = req.body as { messages: Body[] };
    const answer = resultsOf(messages);
    await Promise.all(messages.map((body, i) => store(answer.results[i].id, body)));
    return reply.code(200).send(answer);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as AddressInfo).port;
}

serveRequests(async (request: FloorRequest) =>
  request.kind === 'http' ? listenHttp() : listenFastify(request.kind === 'fastify-redis' ? request.redisUrl : null),
);
