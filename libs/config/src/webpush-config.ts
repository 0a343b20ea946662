/**
 * Web Push's variables (issue 19, docs/WEBPUSH.md): the VAPID key pair and subject, the endpoints
 * allowed beyond the public internet, and the checks between them. Without a key pair Web Push is
 * off: the gateway answers WEBPUSH_DISABLED on its subscription routes and ingest sends none.
 */
import { ConfigError, optionalStr, type Parsed } from './schema';
import type { Env } from './shared-config';

/** The VAPID public key, which browsers need to subscribe: both apps have it. */
export const webPushPublic = {
  /** Uncompressed P-256 point (65 bytes), base64url: `herald vapid-keys` prints a pair. Unset: Web Push off. */
  WEBPUSH_VAPID_PUBLIC_KEY: optionalStr(),
  /**
   * Comma-separated `host:port` endpoints may use even when loopback or private (and plain http):
   * tests and development only (libs/http outbound.ts).
   */
  WEBPUSH_ALLOWED_HOSTS: optionalStr(),
};

/** What only the sender (ingest) holds. */
export const webPushSender = {
  ...webPushPublic,
  /** The pair's private key (32 bytes, base64url). A secret. */
  WEBPUSH_VAPID_PRIVATE_KEY: optionalStr(),
  /** The VAPID `sub`: `mailto:…` or an `https:` URL where push services can reach the operator. */
  WEBPUSH_SUBJECT: optionalStr(),
};

type PublicConfig = Parsed<typeof webPushPublic>;
type SenderConfig = Parsed<typeof webPushSender>;

function base64urlBytes(value: string): number | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(value)) return undefined;
  return Buffer.from(value, 'base64url').length;
}

/** The public key, when set, is a P-256 point. */
export function checkWebPushPublic(config: PublicConfig): void {
  const key = config.WEBPUSH_VAPID_PUBLIC_KEY;
  if (key !== undefined && (base64urlBytes(key) !== 65 || Buffer.from(key, 'base64url')[0] !== 4)) {
    throw new ConfigError('WEBPUSH_VAPID_PUBLIC_KEY', 'must be an uncompressed P-256 public key (65 bytes, base64url); `herald vapid-keys` makes a pair');
  }
}

/** Both keys or neither; a subject with them. */
export function checkWebPushSender(config: SenderConfig, _env: Env): void {
  checkWebPushPublic(config);
  const pub = config.WEBPUSH_VAPID_PUBLIC_KEY;
  const priv = config.WEBPUSH_VAPID_PRIVATE_KEY;
  if ((pub === undefined) !== (priv === undefined)) {
    throw new ConfigError(pub === undefined ? 'WEBPUSH_VAPID_PUBLIC_KEY' : 'WEBPUSH_VAPID_PRIVATE_KEY', 'must be set with its pair (both VAPID keys, or neither to leave Web Push off)');
  }
  if (priv !== undefined && base64urlBytes(priv) !== 32) {
    throw new ConfigError('WEBPUSH_VAPID_PRIVATE_KEY', 'must be a P-256 private key (32 bytes, base64url)');
  }
  if (pub !== undefined && !/^(mailto:.+@.+|https:\/\/.+)$/.test(config.WEBPUSH_SUBJECT ?? '')) {
    throw new ConfigError('WEBPUSH_SUBJECT', 'must be a mailto: address or an https: URL when the VAPID keys are set (push services contact the sender there)');
  }
}

/** True when the config turns Web Push on. */
export const webPushEnabled = (config: { WEBPUSH_VAPID_PUBLIC_KEY?: string }): boolean => config.WEBPUSH_VAPID_PUBLIC_KEY !== undefined;
