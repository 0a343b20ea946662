/**
 * Calls to Herald's HTTP APIs with errors a person can act on: which service, which address, the
 * Contract error code and message, and what to check when the service cannot be reached.
 */
import { failure } from './cli-error';

export interface Service {
  /** "ingest" or "exposure-consumer". */
  name: string;
  baseUrl: string;
  /** The flag and variable that set baseUrl, for the hint. */
  setting: string;
}

export interface ApiResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

/** Requests give up after this long. */
const REQUEST_TIMEOUT_MS = 30_000;

export async function callApi<T>(
  service: Service,
  path: string,
  init: { method?: string; token: string; body?: unknown; headers?: Record<string, string> },
): Promise<ApiResponse<T>> {
  const url = new URL(path, service.baseUrl.endsWith('/') ? service.baseUrl : `${service.baseUrl}/`);
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${init.token}`,
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...init.headers,
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    throw failure(
      `cannot reach ${service.name} at ${service.baseUrl} (${why}); is the stack running (npm run dev)? ` +
        `The address comes from ${service.setting}.`,
    );
  }
  const text = await res.text();
  let body: unknown = undefined;
  if (text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (!res.ok) {
    const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
    const detail = error ? `${error.code}: ${error.message}` : String(body ?? res.statusText).slice(0, 200);
    throw failure(`${service.name} answered ${res.status} ${detail}`);
  }
  return { status: res.status, headers: res.headers, body: body as T };
}
