/**
 * Web Push subscriptions on the gateway's HTTP side (issue 19, docs/WEBPUSH.md): a user registers
 * the browser's `PushSubscription` with the same token it opens the WebSocket with, and deletes it
 * again; the VAPID public key the browser subscribes with is public.
 *
 * Refused before anything is written: a body that is not a subscription, keys that are not a P-256
 * point and a 16-byte secret, an endpoint that is not https on a public address (libs/http
 * outbound.ts; `WEBPUSH_ALLOWED_HOSTS` for tests and development), more than
 * WEBPUSH_MAX_SUBSCRIPTIONS per user. Ingest checks the address again at each send.
 */
import { createECDH } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TokenVerifier } from '@herald/auth';
import { checkEndpointUrl, requireUser, type AllowedHosts } from '@herald/http';
import type { Logger } from '@herald/logger';
import { deletePushSubscription, pushSubscriptionId, savePushSubscription, type HeraldRedis } from '@herald/redis';
import { HeraldError, PUSH_ENDPOINT_MAX_LENGTH, type PushSubscriptionInput } from '@herald/types';
import { createSubscriptionSchema, deleteSubscriptionSchema, vapidKeySchema } from './push-subscription-schemas';

/** A subscription's JSON is a few hundred bytes; this leaves room for long endpoints. */
const BODY_LIMIT = 4096;
const USER_AGENT_MAX = 256;
const P256_POINT_BYTES = 65;
const AUTH_SECRET_BYTES = 16;

export interface PushSubscriptionRoutesOptions {
  redis: HeraldRedis;
  verifier: TokenVerifier;
  /** WEBPUSH_VAPID_PUBLIC_KEY; undefined: Web Push is off and every route answers WEBPUSH_DISABLED. */
  publicKey: string | undefined;
  allowedHosts: AllowedHosts;
  maxPerUser: number;
  /**
   * Browser origins that may call these routes from a page (CORS): WS_ALLOWED_ORIGINS, the ones
   * that may open the WebSocket. Empty: any origin (the token is still required; no cookies).
   */
  allowedOrigins: ReadonlySet<string>;
  log: Logger;
}

const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

/** Decoded base64url bytes, or undefined when the text is not base64url. */
function bytes(text: unknown): Buffer | undefined {
  return typeof text === 'string' && BASE64URL.test(text) ? Buffer.from(text.replace(/=+$/, ''), 'base64url') : undefined;
}

/** Whether `point` is an uncompressed point on P-256 (the browser's p256dh). */
function isP256Point(point: Buffer): boolean {
  if (point.length !== P256_POINT_BYTES || point[0] !== 4) return false;
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    ecdh.computeSecret(point);
    return true;
  } catch {
    // Not on the curve: computeSecret refuses it.
    return false;
  }
}

/** The subscription a body carries, checked; a HeraldError says what is wrong. */
export function parseSubscription(body: unknown, allowed: AllowedHosts): PushSubscriptionInput {
  const b = body as { endpoint?: unknown; keys?: { p256dh?: unknown; auth?: unknown } } | null;
  if (typeof b !== 'object' || b === null || typeof b.endpoint !== 'string' || typeof b.keys !== 'object' || b.keys === null) {
    throw new HeraldError('INVALID_PUSH_SUBSCRIPTION');
  }
  const p256dh = bytes(b.keys.p256dh);
  const auth = bytes(b.keys.auth);
  if (!p256dh || !isP256Point(p256dh)) throw new HeraldError('INVALID_PUSH_SUBSCRIPTION', 'keys.p256dh is not an uncompressed P-256 public key (65 bytes, base64url).');
  if (!auth || auth.length !== AUTH_SECRET_BYTES) throw new HeraldError('INVALID_PUSH_SUBSCRIPTION', 'keys.auth is not a 16-byte secret (base64url).');
  const check = checkEndpointUrl(b.endpoint, allowed, PUSH_ENDPOINT_MAX_LENGTH);
  if (!check.ok) throw new HeraldError('PUSH_ENDPOINT_REFUSED', `The push endpoint is refused: ${check.reason}.`);
  return { endpoint: check.url.href, keys: { p256dh: p256dh.toString('base64url'), auth: auth.toString('base64url') } };
}

/** Preflights are cached this long by browsers. */
const CORS_MAX_AGE_SECONDS = 600;

/**
 * CORS for a web app on another origin than the gateway: a preflight (OPTIONS) is answered for an
 * allowed origin, and every answer to one carries `Access-Control-Allow-Origin`. A page of another
 * origin gets no CORS headers, so its browser keeps the answer from it.
 */
function registerCors(app: FastifyInstance, allowed: ReadonlySet<string>): void {
  const allows = (origin: string | undefined): origin is string => origin !== undefined && (allowed.size === 0 || allowed.has(origin));
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/v1/push-subscriptions')) return;
    const origin = request.headers.origin;
    if (!allows(origin)) return;
    void reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    if (request.method === 'OPTIONS') {
      return reply
        .header('access-control-allow-methods', 'GET, POST, DELETE')
        .header('access-control-allow-headers', 'authorization, content-type')
        .header('access-control-max-age', String(CORS_MAX_AGE_SECONDS))
        .status(204)
        .send();
    }
  });
  for (const path of ['/v1/push-subscriptions', '/v1/push-subscriptions/:id']) {
    // Reached only by a preflight from an origin that is not allowed (the hook answers the others).
    app.options(path, async (_request, reply) => reply.status(403).send());
  }
}

export function registerPushSubscriptionRoutes(app: FastifyInstance, opts: PushSubscriptionRoutesOptions): void {
  const { redis, verifier, publicKey, allowedHosts, maxPerUser, log } = opts;
  registerCors(app, opts.allowedOrigins);
  const enabled = async () => {
    if (publicKey === undefined) throw new HeraldError('WEBPUSH_DISABLED');
  };
  const userOf = (request: FastifyRequest) => request.principal!.userId;

  app.get('/v1/push-subscriptions/vapid-public-key', { onRequest: enabled, schema: vapidKeySchema }, async () => ({ publicKey }));

  const post = {
    onRequest: [enabled, requireUser(verifier)],
    bodyLimit: BODY_LIMIT,
    schema: createSubscriptionSchema,
    // The schema describes (for /docs); parseSubscription's checks name the refusal.
    schemaErrorFormatter: () => new HeraldError('INVALID_PUSH_SUBSCRIPTION'),
  };
  app.post('/v1/push-subscriptions', post, async (request, reply) => {
    const userId = userOf(request);
    const sub = parseSubscription(request.body, allowedHosts);
    const id = pushSubscriptionId(sub.endpoint);
    const userAgent = String(request.headers['user-agent'] ?? '').slice(0, USER_AGENT_MAX);
    const saved = await savePushSubscription(redis, userId, { ...sub, id, userAgent, createdAt: new Date().toISOString() }, maxPerUser);
    if (!saved) throw new HeraldError('PUSH_SUBSCRIPTIONS_LIMIT');
    log.debug({ userId, subscriptionId: id }, 'push subscription saved');
    return reply.status(201).send({ id });
  });

  const del = { onRequest: [enabled, requireUser(verifier)], schema: deleteSubscriptionSchema };
  app.delete<{ Params: { id: string } }>('/v1/push-subscriptions/:id', del, async (request, reply) => {
    const { id } = request.params;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id) || !(await deletePushSubscription(redis, userOf(request), id))) {
      throw new HeraldError('PUSH_SUBSCRIPTION_NOT_FOUND');
    }
    return reply.status(204).send();
  });
}
