/**
 * Helpers for the tests of the gateway's door: a JWKS server on 127.0.0.1 that counts its fetches
 * and can rotate keys, signing keys with `kid`s, hand-made tokens, and a raw HTTP upgrade request
 * that shows exactly what the gateway answers before (instead of) the WebSocket handshake.
 */
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { labelValue, metricSamples } from '@herald/testing';

export interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  /** The public key as it appears in the JWKS (with kid, alg, use). */
  publicJwk: JWK;
  /** The public key as SPKI PEM. */
  publicPem: string;
}

export async function makeKey(alg: 'RS256' | 'ES256', kid: string): Promise<SigningKey> {
  const pair = await generateKeyPair(alg);
  return {
    kid,
    alg,
    privateKey: pair.privateKey as CryptoKey,
    publicJwk: { ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' },
    publicPem: await exportSPKI(pair.publicKey),
  };
}

export interface Claims {
  sub?: string;
  iss?: string;
  aud?: string;
  /** Epoch seconds; default: in 5 minutes. */
  exp?: number;
  /** Epoch seconds. */
  nbf?: number;
  extra?: JWTPayload;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

function build(claims: Claims, header: { alg: string; kid?: string }): SignJWT {
  const jwt = new SignJWT({ ...claims.extra }).setProtectedHeader(header).setIssuedAt().setExpirationTime(claims.exp ?? nowSeconds() + 300);
  if (claims.sub !== undefined) jwt.setSubject(claims.sub);
  if (claims.iss !== undefined) jwt.setIssuer(claims.iss);
  if (claims.aud !== undefined) jwt.setAudience(claims.aud);
  if (claims.nbf !== undefined) jwt.setNotBefore(claims.nbf);
  return jwt;
}

/** A token signed with an asymmetric key; `kid` defaults to the key's own. */
export function signAsym(key: SigningKey, claims: Claims, kid: string = key.kid): Promise<string> {
  return build(claims, { alg: key.alg, kid }).sign(key.privateKey);
}

/** An HS256 token whose HMAC key is the given bytes (the shared secret, or anything else). */
export function signHs256(secret: string | Uint8Array, claims: Claims, kid?: string): Promise<string> {
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  return build(claims, kid ? { alg: 'HS256', kid } : { alg: 'HS256' }).sign(key);
}

/** An unsigned token, made by hand: `{"alg":"none"}` header, the payload, an empty signature. */
export function unsignedToken(payload: JWTPayload): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`;
}

/**
 * The same token with one character of its signature changed. The character is taken from the
 * middle: the last base64url character of a signature may carry only padding bits, and changing
 * those would leave the signature valid.
 */
export function flipSignature(token: string): string {
  const dot = token.lastIndexOf('.');
  const i = dot + 1 + Math.floor((token.length - dot - 1) / 2);
  return token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
}

export interface JwksServer {
  url: string;
  /** Requests served so far. */
  readonly fetches: number;
  /** When the last request was answered (epoch ms); 0 before the first. */
  readonly lastFetchAt: number;
  /** Serve these keys from now on. */
  serve(keys: JWK[]): void;
  /** Answer every fetch with this HTTP error status from now on; undefined: serve the keys again. */
  failWith(status: number | undefined): void;
  close(): Promise<void>;
}

/** A JWKS endpoint on 127.0.0.1 that counts every request it answers. */
export async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  let served = keys;
  let fetches = 0;
  let lastFetchAt = 0;
  let failure: number | undefined;
  const server: Server = createServer((_req, res) => {
    fetches++;
    res.on('finish', () => (lastFetchAt = Date.now()));
    if (failure) {
      res.statusCode = failure;
      res.end('key set unavailable');
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: served }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/.well-known/jwks.json`,
    get fetches() {
      return fetches;
    },
    get lastFetchAt() {
      return lastFetchAt;
    },
    serve(next) {
      served = next;
    },
    failWith(status) {
      failure = status;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Where the token of an upgrade request travels. */
export type Carrier = 'header' | 'query';

export interface UpgradeAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The gateway ended the connection itself (it holds nothing for a refused upgrade). */
  closedByServer: boolean;
}

/**
 * A WebSocket upgrade request written by hand on a plain TCP socket, read until the gateway ends
 * the connection (or `timeoutMs`): the status line, headers and body of the answer.
 */
export function rawUpgrade(httpUrl: string, token: string | undefined, carrier: Carrier = 'header', timeoutMs = 5000): Promise<UpgradeAnswer> {
  const { hostname, port } = new URL(httpUrl);
  const path = token !== undefined && carrier === 'query' ? `/ws?access_token=${encodeURIComponent(token)}` : '/ws';
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: ${hostname}:${port}`,
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
  ];
  if (token !== undefined && carrier === 'header') lines.push(`Authorization: Bearer ${token}`);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let closedByServer = false;
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (c) => chunks.push(c));
    socket.on('end', () => (closedByServer = true));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      if (split < 0) return reject(new Error(`no HTTP answer to the upgrade (got ${JSON.stringify(text.slice(0, 200))})`));
      const [statusLine, ...headerLines] = text.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: text.slice(split + 4), closedByServer });
    });
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  });
}

/** Every series of a labelled counter on a /metrics page, by the value of one label. */
export async function countersByLabel(adminUrl: string, name: string, label: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const sample of metricSamples(text)) {
    const value = sample.name === name ? labelValue(sample.labels, label) : undefined;
    if (value !== undefined) out[value] = sample.value;
  }
  return out;
}

/** What changed between two readings of `countersByLabel` (series that did not move are left out). */
export function counterDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v !== (before[k] ?? 0)) out[k] = v - (before[k] ?? 0);
  return out;
}
