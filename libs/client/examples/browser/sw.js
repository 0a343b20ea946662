// The example's service worker for Web Push (docs/WEBPUSH.md): shows the notification Herald
// pushed for a message while no page of the app was open, opens its `url` on click, and tells
// open pages (the push, and a subscription the browser changed: a page then calls
// client.enableWebPush(registration) again, with the user's token, which the worker has not).
/* eslint-env serviceworker */

async function tellPages(message) {
  for (const page of await self.clients.matchAll({ includeUncontrolled: true, type: 'window' })) page.postMessage(message);
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
  const url = event.notification.data && event.notification.data.url;
  if (url) event.waitUntil(self.clients.openWindow(url));
});

self.addEventListener('pushsubscriptionchange', (event) => {
  event.waitUntil(tellPages({ type: 'herald-pushsubscriptionchange' }));
});
