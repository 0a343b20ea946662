/**
 * A push service standing in for a browser vendor's (tests of Web Push, issue 19): an HTTPS server
 * on 127.0.0.1 whose certificate is made here with the `openssl` CLI, in a temporary folder (the
 * apps trust it through NODE_EXTRA_CA_CERTS, given at their start). Each path is one subscription's
 * endpoint, and answers as the test says: 201, 410, 429, or never (a hang). Every request is kept.
 *
 * Also what a browser does with a push: a subscription's keys (ECDH P-256 and a 16-byte auth
 * secret), the aes128gcm body decrypted with `http_ece`, and the VAPID JWT checked against the
 * sender's public key.
 */
import { execFileSync } from 'node:child_process';
import { createECDH, type ECDH } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decrypt } from 'http_ece';
import { importJWK, jwtVerify, type JWTPayload } from 'jose';

export interface ReceivedPush {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export type Behaviour = { status: number; headers?: Record<string, string> } | 'hang';

export interface PushService {
  /** `https://127.0.0.1:<port>` */
  origin: string;
  /** `127.0.0.1:<port>`, for WEBPUSH_ALLOWED_HOSTS. */
  hostPort: string;
  /** The certificate's file, for NODE_EXTRA_CA_CERTS. */
  caFile: string;
  received: ReceivedPush[];
  /** How `path` answers from now on (default: 201); a list: the nth request the nth (the last one from then on). */
  answer(path: string, behaviour: Behaviour | Behaviour[]): void;
  requestsTo(path: string): ReceivedPush[];
  close(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1, made by the openssl CLI in `dir`. */
function makeCertificate(dir: string): { key: Buffer; cert: Buffer; certFile: string } {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
  return { key: readFileSync(keyFile), cert: readFileSync(certFile), certFile };
}

export async function startPushService(): Promise<PushService> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-push-'));
  const { key, cert, certFile } = makeCertificate(dir);
  const received: ReceivedPush[] = [];
  const behaviours = new Map<string, Behaviour[]>();
  const hanging = new Set<import('node:http').ServerResponse>();
  const server: Server = createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const n = received.filter((r) => r.path === path).length;
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks) });
      const list = behaviours.get(path) ?? [{ status: 201 }];
      const b = list[Math.min(n, list.length - 1)];
      if (b === 'hang') {
        hanging.add(res);
        return;
      }
      res.writeHead(b.status, b.headers).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `https://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    caFile: certFile,
    received,
    answer: (path, behaviour) => void behaviours.set(path, Array.isArray(behaviour) ? behaviour : [behaviour]),
    requestsTo: (path) => received.filter((r) => r.path === path),
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A browser's side of one subscription: its keys, and the JSON it gives the page. */
export interface BrowserSubscription {
  ecdh: ECDH;
  auth: string;
  json: { endpoint: string; keys: { p256dh: string; auth: string } };
}

export function newSubscription(endpoint: string): BrowserSubscription {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = Buffer.from(Array.from({ length: 16 }, (_, i) => (i * 37 + endpoint.length) & 255)).toString('base64url');
  return { ecdh, auth, json: { endpoint, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth } } };
}

/** The push's plaintext, decrypted as the browser would (aes128gcm). */
export function decryptPush(push: ReceivedPush, sub: BrowserSubscription): unknown {
  expect(push.headers['content-encoding']).toBe('aes128gcm');
  return JSON.parse(decrypt(push.body, { version: 'aes128gcm', privateKey: sub.ecdh, authSecret: sub.auth }).toString('utf8'));
}

/**
 * The VAPID claims of a push (`Authorization: vapid t=<jwt>, k=<public key>`), after checking `k`
 * is the sender's key and the JWT's ES256 signature against it; throws when either is wrong.
 */
export async function verifyVapid(push: ReceivedPush, publicKey: string): Promise<JWTPayload> {
  const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(String(push.headers.authorization ?? ''));
  if (!m) throw new Error(`not a VAPID Authorization header: ${String(push.headers.authorization)}`);
  expect(m[2]).toBe(publicKey);
  const point = Buffer.from(publicKey, 'base64url');
  const jwk = { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33, 65).toString('base64url') };
  const { payload } = await jwtVerify(m[1], await importJWK(jwk, 'ES256'), { algorithms: ['ES256'] });
  return payload;
}
