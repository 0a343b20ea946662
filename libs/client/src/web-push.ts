/**
 * Web Push from the SDK (docs/WEBPUSH.md, docs/CLIENT.md): subscribe the page's service worker
 * registration with Herald's VAPID public key and register the subscription with the gateway, so
 * the user is nudged while no tab of the app is open. Browser only; the service worker shows the
 * push (examples/browser/sw.js).
 *
 * Call it at each start of the app (after a user gesture on iOS): a browser may renew or drop a
 * subscription at any time (`pushsubscriptionchange` in the worker, which the example relays to its
 * pages), and registering the same endpoint again replaces its keys at the gateway, so calling it
 * again is how a renewed subscription reaches Herald. A subscription made with another key (the
 * deployment's pair changed) is dropped and made again.
 */

/** The parts of a browser's `PushSubscription` the SDK uses. */
export interface PushSubscriptionLike {
  readonly endpoint: string;
  readonly options?: { readonly applicationServerKey?: ArrayBuffer | null };
  toJSON(): { endpoint?: string; keys?: Record<string, string> };
  unsubscribe(): Promise<boolean>;
}

/** The parts of a `ServiceWorkerRegistration` the SDK uses. */
export interface ServiceWorkerRegistrationLike {
  readonly pushManager: {
    getSubscription(): Promise<PushSubscriptionLike | null>;
    subscribe(options: { userVisibleOnly: boolean; applicationServerKey: Uint8Array }): Promise<PushSubscriptionLike>;
  };
}

export interface WebPushRegistration {
  /** The subscription's id at Herald (DELETE /v1/push-subscriptions/{id}). */
  id: string;
  subscription: PushSubscriptionLike;
  /** Unsubscribe in the browser and remove it from Herald. */
  disable(): Promise<void>;
}

/** A refusal from the gateway (`code` from its error body, e.g. WEBPUSH_DISABLED, PUSH_SUBSCRIPTIONS_LIMIT). */
export class WebPushError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'WebPushError';
  }
}

export interface WebPushContext {
  /** The gateway's WebSocket URL (the client's `url`): the HTTP routes are beside it. */
  url: string;
  /** The user's token (the client's). */
  token: () => Promise<string>;
  fetch?: typeof fetch;
}

/** `ws(s)://host/prefix/ws` → `http(s)://host/prefix`. */
export function gatewayHttpBase(wsUrl: string): string {
  const url = new URL(wsUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.pathname = url.pathname.replace(/\/ws\/?$/, '');
  url.search = '';
  url.hash = '';
  return url.href.replace(/\/$/, '');
}

function base64urlBytes(text: string): Uint8Array {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  return Uint8Array.from(atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), '=')), (c) => c.charCodeAt(0));
}

function sameKey(a: ArrayBuffer | null | undefined, b: Uint8Array): boolean {
  if (!a) return true; // a browser that does not say is trusted; the gateway's push would tell.
  const bytes = new Uint8Array(a);
  return bytes.length === b.length && bytes.every((v, i) => v === b[i]);
}

async function call<T>(ctx: WebPushContext, path: string, init: { method: string; body?: unknown; auth: boolean }): Promise<T | undefined> {
  const doFetch = ctx.fetch ?? fetch;
  const headers: Record<string, string> = init.body === undefined ? {} : { 'content-type': 'application/json' };
  if (init.auth) headers.authorization = `Bearer ${await ctx.token()}`;
  const res = await doFetch(`${gatewayHttpBase(ctx.url)}${path}`, {
    method: init.method,
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  if (res.status === 204) return undefined;
  const body = (await res.json()) as T & { error?: { code: string; message: string } };
  if (!res.ok) throw new WebPushError(res.status, body.error?.code ?? 'UNKNOWN', body.error?.message ?? `the gateway answered ${res.status}`);
  return body;
}

/** Subscribe `registration` and register the subscription with Herald (see the header). */
export async function enableWebPush(ctx: WebPushContext, registration: ServiceWorkerRegistrationLike): Promise<WebPushRegistration> {
  const { publicKey } = (await call<{ publicKey: string }>(ctx, '/v1/push-subscriptions/vapid-public-key', { method: 'GET', auth: false }))!;
  const key = base64urlBytes(publicKey);
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && !sameKey(subscription.options?.applicationServerKey, key)) {
    await subscription.unsubscribe();
    subscription = null;
  }
  subscription ??= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  const json = subscription.toJSON();
  const { id } = (await call<{ id: string }>(ctx, '/v1/push-subscriptions', {
    method: 'POST',
    body: { endpoint: json.endpoint ?? subscription.endpoint, keys: json.keys },
    auth: true,
  }))!;
  const current = subscription;
  return {
    id,
    subscription: current,
    async disable() {
      await current.unsubscribe();
      await call(ctx, `/v1/push-subscriptions/${encodeURIComponent(id)}`, { method: 'DELETE', auth: true });
    },
  };
}
