// The example's service worker for Web Push (docs/WEBPUSH.md): shows the notification Herald
// pushed for a message while no page of the app was open, opens its `url` on click, and tells
// open pages (the push, and a subscription the browser changed: a page then calls
// client.enableWebPush(registration) again, with the user's token, which the worker has not).
//
// A click is the message's `opened` engagement event (issue 18), but the worker has no token and
// no connection: it keeps the clicked message ids (Cache Storage: they outlive the worker, which
// the browser stops at will) and hands them to the SDK of a page that asks, which reports them
// in its `event` frames (web-push.ts relayNotificationOpens). Handed ids are forgotten; an id
// handed twice (two pages asking at once) is one event all the same (the consumer stores each
// (message, user, kind) once).
/* eslint-env serviceworker */

const OPENED = 'herald-notification-opened';

async function tellPages(message) {
  for (const page of await self.clients.matchAll({ includeUncontrolled: true, type: 'window' })) page.postMessage(message);
}

async function rememberOpened(messageId) {
  const cache = await caches.open(OPENED);
  await cache.put(new Request(`/herald-opened/${encodeURIComponent(messageId)}`), new Response(''));
}

async function takeOpened() {
  const cache = await caches.open(OPENED);
  const requests = await cache.keys();
  await Promise.all(requests.map((request) => cache.delete(request)));
  return requests.map((request) => decodeURIComponent(new URL(request.url).pathname.split('/').pop()));
}

self.addEventListener('push', (event) => {
  // Herald's push data: {"messageId":"…","notification":{"title","body","url"?,"icon"?,"tag"?}}
  const data = event.data ? event.data.json() : {};
  const n = data.notification || { title: 'New message', body: '' };
  event.waitUntil(
    (async () => {
      await tellPages({ type: 'herald-push', messageId: data.messageId, notification: n });
      // Every push must show a notification (userVisibleOnly), or the browser may revoke the subscription.
      await self.registration.showNotification(n.title, { body: n.body, icon: n.icon, tag: n.tag, data: { url: n.url, messageId: data.messageId } });
    })(),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const { url, messageId } = event.notification.data || {};
  const work = (async () => {
    if (messageId) await rememberOpened(messageId);
    // Open pages ask for the ids now; a page opened below asks when its client enables Web Push.
    await tellPages({ type: 'herald-opened-waiting' });
    if (url) await self.clients.openWindow(url);
  })();
  event.waitUntil(work);
});

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'herald-take-opened' && event.source) {
    const page = event.source;
    event.waitUntil(takeOpened().then((messageIds) => messageIds.length > 0 && page.postMessage({ type: 'herald-opened', messageIds })));
  }
});

self.addEventListener('pushsubscriptionchange', (event) => {
  event.waitUntil(tellPages({ type: 'herald-pushsubscriptionchange' }));
});
