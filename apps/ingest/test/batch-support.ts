/** For the batch tests: an ingest on a private redis-server per file, and POST /v1/messages/batch through it (inject). */
import Redis from 'ioredis';
import { startRedisServer, type RedisServer } from '@herald/testing';
import type { Ingest } from '../src/app';
import { bearer, ingestConfig, makeTokens, queueMetaWritten, startIngest, type Tokens } from './harness';

export interface BatchEnv {
  redis: Redis;
  ingest: Ingest;
  tokens: Tokens;
}

/**
 * An ingest with `env` on a private redis-server, started before the file's tests and stopped
 * after them; the fields of the returned object are set once started.
 */
export function useIngest(env: Record<string, string>): BatchEnv {
  const running = {} as BatchEnv;
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
    running.redis = new Redis(server.url);
    running.ingest = await startIngest(ingestConfig(server.url, env));
    running.tokens = await makeTokens();
    await queueMetaWritten(running.redis);
  });
  afterAll(async () => {
    await running.ingest?.close();
    running.redis?.disconnect();
    await server?.stop();
  });
  return running;
}

export type ItemResult = { id: string } | { error: { code: string; message: string } };

export interface BatchResponse {
  status: number;
  results: ItemResult[];
  /** The whole body (an error body when status is not 200). */
  body: unknown;
}

export async function postBatch(ingest: Ingest, token: string, body: unknown): Promise<BatchResponse> {
  const res = await ingest.app.inject({
    method: 'POST',
    url: '/v1/messages/batch',
    headers: bearer(token),
    payload: body as object,
  });
  const json = res.json() as { results?: ItemResult[] };
  return { status: res.statusCode, results: json.results ?? [], body: json };
}

/** The ids of results that are ids; throws on an error result. */
export function idsOf(results: ItemResult[]): string[] {
  return results.map((r) => {
    if (!('id' in r)) throw new Error(`expected an id, got ${JSON.stringify(r)}`);
    return r.id;
  });
}

export const errorCodes = (results: ItemResult[]) => results.map((r) => ('error' in r ? r.error.code : 'ok'));
