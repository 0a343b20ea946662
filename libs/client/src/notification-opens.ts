/**
 * Notification clicks as `opened` events (docs/WEBPUSH.md): the service worker that shows Herald's
 * pushes (examples/browser/sw.js) keeps the message id of each notification the user clicked, but
 * has neither the user's token nor a connection. A page's client asks it for those ids and reports
 * them like `message.opened()` (engagement.ts), held while disconnected.
 *
 * The messages between page and worker (both directions through `postMessage`):
 * - page → worker `{type:"herald-take-opened"}`: hand over the clicked ids (the worker forgets them);
 * - worker → page `{type:"herald-opened", messageIds:[…]}`: the answer, when there are any;
 * - worker → pages `{type:"herald-opened-waiting"}`: a notification was just clicked: ask again.
 */

/** The parts of `navigator.serviceWorker` (a ServiceWorkerContainer) this uses. */
export interface ServiceWorkerContainerLike {
  readonly ready: Promise<{ readonly active: { postMessage(message: unknown): void } | null }>;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  removeEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
}

/** The page's service worker container, where there is one (a browser page, served securely or from localhost). */
export function pageServiceWorkers(): ServiceWorkerContainerLike | undefined {
  const nav = (globalThis as { navigator?: { serviceWorker?: ServiceWorkerContainerLike } }).navigator;
  return nav?.serviceWorker;
}

/**
 * Ask the worker for clicked ids now and whenever it says one is waiting; each id goes to
 * `report`. Returns the function that stops listening.
 */
export function relayNotificationOpens(container: ServiceWorkerContainerLike, report: (messageId: string) => void): () => void {
  const ask = (): void => {
    container.ready.then(
      (registration) => registration.active?.postMessage({ type: 'herald-take-opened' }),
      () => undefined,
    );
  };
  const listener = ({ data }: { data: unknown }): void => {
    const message = data as { type?: unknown; messageIds?: unknown } | null;
    if (message?.type === 'herald-opened-waiting') ask();
    else if (message?.type === 'herald-opened' && Array.isArray(message.messageIds)) {
      for (const id of message.messageIds) if (typeof id === 'string') report(id);
    }
  };
  container.addEventListener('message', listener);
  ask();
  return () => container.removeEventListener('message', listener);
}
