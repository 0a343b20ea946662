/**
 * The OpenAPI description of the gateway's Web Push subscription routes (push-subscriptions.ts),
 * served at /docs. The body schema only describes: the route's own checks (parseSubscription)
 * give the refusals their codes, so a body that fails it is INVALID_PUSH_SUBSCRIPTION either way.
 */
import { ERROR_BODY_SCHEMA } from '@herald/http';
import { PUSH_ENDPOINT_MAX_LENGTH } from '@herald/types';

const errorBody = (description: string) => ({ ...ERROR_BODY_SCHEMA, description });

const DISABLED = 'Web Push is off on this deployment: no VAPID key (WEBPUSH_DISABLED).';
const BEARER = [{ bearer: [] }];

export const vapidKeySchema = {
  summary: 'The VAPID public key browsers subscribe with',
  description: 'Public, no token: `applicationServerKey` for `pushManager.subscribe` (docs/WEBPUSH.md).',
  tags: ['web push'],
  response: {
    200: { type: 'object', required: ['publicKey'], properties: { publicKey: { type: 'string', description: 'base64url, an uncompressed P-256 point.' } } },
    404: errorBody(DISABLED),
  },
};

export const createSubscriptionSchema = {
  summary: "Register the browser's push subscription for the token's user",
  description:
    "The browser's `PushSubscription` JSON. The same endpoint again replaces its entry (same id, a digest of the endpoint). " +
    'The token rules are the WebSocket\'s: any valid user token; its `sub` is the user. Allowed origins get CORS (WS_ALLOWED_ORIGINS).',
  tags: ['web push'],
  security: BEARER,
  body: {
    type: 'object',
    required: ['endpoint', 'keys'],
    properties: {
      endpoint: { type: 'string', description: `https on a public address (WEBPUSH_ALLOWED_HOSTS excepted), at most ${PUSH_ENDPOINT_MAX_LENGTH} characters (PUSH_ENDPOINT_REFUSED).` },
      keys: {
        type: 'object',
        required: ['p256dh', 'auth'],
        properties: {
          p256dh: { type: 'string', description: 'base64url, an uncompressed P-256 point (65 bytes).' },
          auth: { type: 'string', description: 'base64url, 16 bytes.' },
        },
      },
    },
  },
  response: {
    201: { type: 'object', required: ['id'], properties: { id: { type: 'string', description: 'For DELETE /v1/push-subscriptions/{id}.' } } },
    400: errorBody('Not a subscription or bad keys (INVALID_PUSH_SUBSCRIPTION); an endpoint that is not https on a public address (PUSH_ENDPOINT_REFUSED).'),
    401: errorBody('No valid user token.'),
    404: errorBody(DISABLED),
    409: errorBody('The user has WEBPUSH_MAX_SUBSCRIPTIONS subscriptions already (PUSH_SUBSCRIPTIONS_LIMIT).'),
    413: errorBody('The body is over 4 KB.'),
  },
};

export const deleteSubscriptionSchema = {
  summary: "Remove one of the token's user's push subscriptions",
  tags: ['web push'],
  security: BEARER,
  params: { type: 'object', required: ['id'], properties: { id: { type: 'string', description: 'The id POST answered.' } } },
  response: {
    204: { type: 'null', description: 'Removed.' },
    401: errorBody('No valid user token.'),
    404: errorBody('The user has no subscription with that id (PUSH_SUBSCRIPTION_NOT_FOUND), or Web Push is off (WEBPUSH_DISABLED).'),
  },
};
