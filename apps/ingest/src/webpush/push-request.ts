/**
 * One Web Push request (RFC 8030) to one subscription, sent by Herald's own HTTPS client: `web-push`
 * encrypts the body (aes128gcm, RFC 8291) and signs the VAPID JWT (`generateRequestDetails`), and
 * this module makes the request, because the endpoint is a URL a user chose (docs/SECURITY.md):
 *
 * - the host is resolved and every address checked right before the request (`resolveEndpoint`),
 *   and the socket connects to that very address (`pinnedLookup`), with the host name kept for
 *   TLS (SNI and certificate check);
 * - redirects are never followed (a 3xx is an answer like any other);
 * - the whole exchange has a deadline, and at most `RESPONSE_MAX_BYTES` of the answer are read.
 *
 * Node's default CA store applies, plus NODE_EXTRA_CA_CERTS (how tests trust a stand-in push
 * service on loopback with a self-signed certificate).
 */
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { generateRequestDetails, type PushSubscription, type Urgency } from 'web-push';
import { pinnedLookup, resolveEndpoint, type AllowedHosts } from '@herald/http';

/** Bytes of a push service's answer read at most (its body only explains an error). */
const RESPONSE_MAX_BYTES = 4096;

export interface VapidKeys {
  subject: string;
  publicKey: string;
  privateKey: string;
}

export interface PushRequest {
  subscription: PushSubscription;
  /** The plaintext (JSON), at most WEBPUSH_MAX_PLAINTEXT_BYTES. */
  body: string;
  /** Seconds the push service keeps it for an offline device (the message's remaining TTL). */
  ttlSeconds: number;
  urgency?: Urgency;
  /** RFC 8030 Topic: a newer push with the same topic replaces one the service still holds. */
  topic?: string;
}

export interface PushAnswer {
  status: number;
  /** `Retry-After` in ms, when the answer had one (seconds or an HTTP date). */
  retryAfterMs?: number;
  /** The start of the answer's body, for logs. */
  text: string;
}

export interface PushClientOptions {
  vapid: VapidKeys;
  allowedHosts: AllowedHosts;
  timeoutMs: number;
}

/** The push never got an answer in time (connect, TLS or the answer itself). */
export class PushTimeout extends Error {
  readonly code = 'WEBPUSH_TIMEOUT';
  constructor(ms: number) {
    super(`the push service did not answer within ${ms} ms`);
    this.name = 'PushTimeout';
  }
}

/** `Retry-After` (delta seconds or HTTP date) in ms from now; undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Send one push; resolves with the push service's answer, whatever its status. Rejects with
 * EndpointRefused (the host resolves to an address it may not reach), PushTimeout, or the
 * network's error.
 */
export async function sendPush(req: PushRequest, opts: PushClientOptions): Promise<PushAnswer> {
  const details = generateRequestDetails(req.subscription, req.body, {
    vapidDetails: opts.vapid,
    TTL: req.ttlSeconds,
    urgency: req.urgency,
    topic: req.topic,
    contentEncoding: 'aes128gcm',
  });
  const url = new URL(details.endpoint);
  const resolved = await resolveEndpoint(url, opts.allowedHosts);
  const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise<PushAnswer>((resolve, reject) => {
    const request = send(url, {
      method: 'POST',
      headers: details.headers as Record<string, string | number>,
      lookup: pinnedLookup(resolved),
      // SNI names a host, never an address (RFC 6066); the certificate is checked against the host either way.
      servername: isIP(host) ? undefined : host,
      // One request per connection: no pool keeps sockets to user-chosen hosts open.
      agent: false,
      timeout: opts.timeoutMs,
    });
    const deadline = setTimeout(() => request.destroy(new PushTimeout(opts.timeoutMs)), opts.timeoutMs);
    request.on('timeout', () => request.destroy(new PushTimeout(opts.timeoutMs)));
    request.on('error', (err) => {
      clearTimeout(deadline);
      reject(err);
    });
    request.on('response', (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => {
        clearTimeout(deadline);
        const header = response.headers['retry-after'];
        const retry = retryAfterMs(Array.isArray(header) ? header[0] : header);
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8').slice(0, 200), ...(retry === undefined ? {} : { retryAfterMs: retry }) });
        response.destroy();
      };
      response.on('data', (chunk: Buffer) => {
        if (size < RESPONSE_MAX_BYTES) chunks.push(chunk.subarray(0, RESPONSE_MAX_BYTES - size));
        size += chunk.length;
        if (size >= RESPONSE_MAX_BYTES) done();
      });
      response.on('end', done);
      response.on('error', (err) => {
        clearTimeout(deadline);
        reject(err);
      });
    });
    request.end(details.body);
  });
}
