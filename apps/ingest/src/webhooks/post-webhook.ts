/**
 * One webhook request: POST the signed body to the endpoint's URL, through the SSRF guard
 * (url-guard.ts: the URL's form, then every resolved address, and the connection to the checked
 * one), with a deadline on the whole exchange, no redirects followed (a 3xx is a failure), and at
 * most RESPONSE_MAX_BYTES of the answer read. Never throws: the outcome says what happened.
 */
import http from 'node:http';
import https from 'node:https';
import type { AllowedHost } from './url-guard';
import { checkUrlForm, guardedLookup } from './url-guard';

/** Bytes of an endpoint's answer read at most; the rest is not waited for. */
export const RESPONSE_MAX_BYTES = 64 * 1024;
/** Characters of the answer kept in a failure's reason. */
const REASON_BODY_CHARS = 200;

export type PostOutcome = { ok: true; status: number } | { ok: false; reason: string; status?: number };

export interface PostRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  allowedHosts: readonly AllowedHost[];
  timeoutMs: number;
}

export async function postWebhook(req: PostRequest): Promise<PostOutcome> {
  let checked;
  try {
    checked = checkUrlForm(req.url, req.allowedHosts);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  const { url, allowListed } = checked;
  const request = url.protocol === 'https:' ? https.request : http.request;
  return new Promise<PostOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: PostOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const body = Buffer.from(req.body);
    const r = request(url, {
      method: 'POST',
      agent: false,
      lookup: guardedLookup(allowListed),
      headers: {
        ...req.headers,
        'content-type': 'application/json',
        'content-length': String(body.length),
        'user-agent': 'Herald-Webhooks/1',
      },
    });
    const timer = setTimeout(() => {
      finish({ ok: false, reason: `no answer within ${req.timeoutMs} ms` });
      r.destroy();
    }, req.timeoutMs);
    r.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, reason: err.code ? `${err.code}: ${err.message}` : err.message }));
    r.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      const done = (): void => {
        const text = Buffer.concat(chunks).toString('utf8').slice(0, REASON_BODY_CHARS);
        if (status >= 200 && status < 300) finish({ ok: true, status });
        else if (status >= 300 && status < 400) finish({ ok: false, status, reason: `answered ${status} (redirects are not followed)` });
        else finish({ ok: false, status, reason: `answered ${status}${text ? `: ${text}` : ''}` });
        res.destroy();
      };
      res.on('data', (chunk: Buffer) => {
        if (size >= RESPONSE_MAX_BYTES) return;
        chunks.push(chunk);
        size += chunk.length;
        if (size >= RESPONSE_MAX_BYTES) done();
      });
      res.on('end', done);
      res.on('error', (err) => finish({ ok: false, status, reason: err.message }));
    });
    r.end(body);
  });
}
