/**
 * Web Push for `npm run dev` (docs/WEBPUSH.md): a VAPID key pair for the dev stack, made once and
 * kept in the launcher's state directory (`vapid.json`, mode 0600), because a browser's
 * subscription is bound to the public key it was made with: a new pair each run would orphan
 * every subscription of the last. Keys given in the environment win; none is made then.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateVAPIDKeys } from 'web-push';

export const DEV_VAPID_FILE = 'vapid.json';
/** The VAPID subject of the dev stack (push services would write there; none will). */
export const DEV_VAPID_SUBJECT = 'mailto:dev@herald.invalid';

export interface DevVapid {
  /** What the apps get on top of the launcher's environment (empty when it sets the keys). */
  env: Record<string, string>;
  /** Where the pair is kept; undefined when the environment gave the keys. */
  file?: string;
}

function readPair(file: string): { publicKey: string; privateKey: string } | undefined {
  try {
    const pair = JSON.parse(readFileSync(file, 'utf8')) as { publicKey?: unknown; privateKey?: unknown };
    return typeof pair.publicKey === 'string' && typeof pair.privateKey === 'string' ? { publicKey: pair.publicKey, privateKey: pair.privateKey } : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${file} is not a VAPID key pair (${(err as Error).message}); delete it to make a new one`);
  }
}

export function devVapid(stateDir: string, env: Record<string, string | undefined>): DevVapid {
  if (env.WEBPUSH_VAPID_PUBLIC_KEY || env.WEBPUSH_VAPID_PRIVATE_KEY) return { env: {} };
  const file = join(stateDir, DEV_VAPID_FILE);
  let pair = readPair(file);
  if (!pair) {
    pair = generateVAPIDKeys();
    writeFileSync(file, `${JSON.stringify(pair)}\n`, { mode: 0o600 });
  }
  return {
    file,
    env: { WEBPUSH_VAPID_PUBLIC_KEY: pair.publicKey, WEBPUSH_VAPID_PRIVATE_KEY: pair.privateKey, WEBPUSH_SUBJECT: env.WEBPUSH_SUBJECT || DEV_VAPID_SUBJECT },
  };
}
