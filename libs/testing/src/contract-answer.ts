/** What every Herald HTTP answer must be, whatever the request: for property tests of the APIs. */
import { ErrorCodes, type ErrorCode } from '@herald/types';

/** The parts of an answer the check reads (fastify's `inject` response has them). */
export interface HttpAnswer {
  statusCode: number;
  body: string;
  headers: Record<string, unknown>;
}

/** 2xx or 4xx, and a 4xx is the Contract error body with its code's status. */
export function expectContractAnswer(res: HttpAnswer): void {
  if (res.statusCode >= 500 || res.statusCode < 200) throw new Error(`answered ${res.statusCode}: ${res.body}`);
  if (res.statusCode < 400) return;
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body: unknown = JSON.parse(res.body);
  expect(body).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
  const { code } = (body as { error: { code: string } }).error;
  expect(code in ErrorCodes).toBe(true);
  expect(ErrorCodes[code as ErrorCode].status).toBe(res.statusCode);
}
