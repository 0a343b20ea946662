/**
 * Web Push (issue 19): what a message may carry for a user whose app is closed, and the limits of
 * a browser's push subscription as Herald stores it. docs/WEBPUSH.md explains the feature.
 */

/**
 * `notification` on POST /v1/messages: what the service worker shows. Sent, encrypted, to each
 * of an offline recipient's subscriptions as the push's JSON body `{"messageId","notification"}`.
 */
export interface WebPushNotification {
  title: string;
  body: string;
  /** Opened when the notification is clicked (the service worker's choice). */
  url?: string;
  icon?: string;
  /** Notifications with the same tag replace one another on the device. */
  tag?: string;
}

/** RFC 8030 `Urgency`: how soon the push service should wake the device. */
export const WEBPUSH_URGENCIES = ['very-low', 'low', 'normal', 'high'] as const;
export type WebPushUrgency = (typeof WEBPUSH_URGENCIES)[number];

/**
 * Bounds of a notification's fields (characters). Besides them, the push's whole JSON body must fit
 * in `WEBPUSH_MAX_PLAINTEXT_BYTES` (checked when the message is accepted: INVALID_NOTIFICATION).
 */
export const WEBPUSH_LIMITS = {
  title: 120,
  body: 1000,
  url: 1024,
  icon: 1024,
  tag: 64,
} as const;

/**
 * The largest plaintext one push carries: RFC 8291 (aes128gcm, one record) keeps 3993 of a push
 * message's 4096 bytes for it (86 for the header with the key, 16 for the tag, 1 delimiter).
 */
export const WEBPUSH_MAX_PLAINTEXT_BYTES = 3993;

/** The JSON a push carries (what the service worker's `event.data.json()` reads). */
export function webPushBody(messageId: string, notification: WebPushNotification): string {
  return JSON.stringify({ messageId, notification });
}

/** A browser's `PushSubscription` as registered: its endpoint and keys (base64url). */
export interface PushSubscriptionInput {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/** Longest endpoint URL accepted (characters). */
export const PUSH_ENDPOINT_MAX_LENGTH = 2048;
