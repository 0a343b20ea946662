/** `npm run dev`'s VAPID pair (tools/dev/src/vapid.ts): made once, kept, reused; the environment's keys win. */
import { createECDH } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadIngestConfig } from '@herald/config';
import { DEV_VAPID_FILE, DEV_VAPID_SUBJECT, devVapid } from '../src/vapid';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'herald-vapid-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('makes a pair the first time, keeps it (0600) and gives the same one the next run; ingest accepts it', () => {
  const first = devVapid(dir, {});
  expect(first.file).toBe(join(dir, DEV_VAPID_FILE));
  expect(statSync(first.file!).mode & 0o777).toBe(0o600);
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(Buffer.from(first.env.WEBPUSH_VAPID_PRIVATE_KEY, 'base64url'));
  expect(ecdh.getPublicKey().toString('base64url')).toBe(first.env.WEBPUSH_VAPID_PUBLIC_KEY);
  expect(first.env.WEBPUSH_SUBJECT).toBe(DEV_VAPID_SUBJECT);
  expect(devVapid(dir, {}).env).toEqual(first.env);
  const config = loadIngestConfig({ AUTH_JWT_SECRET: 'x'.repeat(32), ...first.env });
  expect(config.WEBPUSH_VAPID_PUBLIC_KEY).toBe(first.env.WEBPUSH_VAPID_PUBLIC_KEY);
});

it('leaves keys from the environment alone, and says what to do with a damaged file', () => {
  expect(devVapid(dir, { WEBPUSH_VAPID_PUBLIC_KEY: 'given' })).toEqual({ env: {} });
  writeFileSync(join(dir, DEV_VAPID_FILE), 'not json');
  expect(() => devVapid(dir, {})).toThrow(/delete it to make a new one/);
});
