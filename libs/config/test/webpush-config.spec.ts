/** Web Push's variables: both keys or neither, a subject with them, keys of the right shape. */
import { generateVAPIDKeys } from 'web-push';
import { loadGatewayConfig, loadIngestConfig, webPushEnabled } from '../src';

const AUTH = { AUTH_JWT_SECRET: 'x'.repeat(32) };
const pair = generateVAPIDKeys();
const keys = { WEBPUSH_VAPID_PUBLIC_KEY: pair.publicKey, WEBPUSH_VAPID_PRIVATE_KEY: pair.privateKey };

it('is off without keys, on with a pair and a subject', () => {
  expect(webPushEnabled(loadIngestConfig(AUTH))).toBe(false);
  const on = loadIngestConfig({ ...AUTH, ...keys, WEBPUSH_SUBJECT: 'mailto:ops@example.com' });
  expect(webPushEnabled(on)).toBe(true);
  expect(webPushEnabled(loadGatewayConfig({ ...AUTH, WEBPUSH_VAPID_PUBLIC_KEY: pair.publicKey }))).toBe(true);
});

it('refuses half a pair, a missing or odd subject, and keys of the wrong shape, naming the variable', () => {
  const ingest = (env: Record<string, string>) => () => loadIngestConfig({ ...AUTH, WEBPUSH_SUBJECT: 'mailto:ops@example.com', ...env });
  expect(ingest({ WEBPUSH_VAPID_PUBLIC_KEY: pair.publicKey })).toThrow(/WEBPUSH_VAPID_PRIVATE_KEY must be set with its pair/);
  expect(ingest({ WEBPUSH_VAPID_PRIVATE_KEY: pair.privateKey })).toThrow(/WEBPUSH_VAPID_PUBLIC_KEY must be set with its pair/);
  expect(ingest({ ...keys, WEBPUSH_SUBJECT: 'ops@example.com' })).toThrow(/WEBPUSH_SUBJECT must be a mailto/);
  expect(ingest({ ...keys, WEBPUSH_VAPID_PRIVATE_KEY: pair.publicKey })).toThrow(/WEBPUSH_VAPID_PRIVATE_KEY must be a P-256 private key/);
  expect(() => loadGatewayConfig({ ...AUTH, WEBPUSH_VAPID_PUBLIC_KEY: pair.privateKey })).toThrow(/WEBPUSH_VAPID_PUBLIC_KEY must be an uncompressed P-256/);
});
