import { createHash } from 'node:crypto';

/**
 * The event id of a per-user event that must be stored at most once (an engagement, an expired or
 * dropped id): a UUID-shaped digest of (kind, message, user), the same from every process.
 */
export function perUserEventId(kind: string, messageId: string, userId: string): string {
  const h = createHash('sha256').update(`${kind}\u0000${messageId}\u0000${userId}`).digest('hex');
  // Version 8 (custom) and the RFC 4122 variant, so it parses as a UUID wherever one is expected.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16], 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
