/** POST /v1/messages/batch through the app (inject), for the batch tests. */
import type { Ingest } from '../src/app';
import { bearer } from './harness';

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
