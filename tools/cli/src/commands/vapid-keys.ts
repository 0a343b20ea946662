/** `herald vapid-keys`: a new VAPID key pair for Web Push (docs/WEBPUSH.md), printed as env lines. */
import type { Command } from '../command';

export const vapidKeysCommand: Command = {
  name: 'vapid-keys',
  summary: 'print a new VAPID key pair for Web Push (WEBPUSH_VAPID_* lines)',
  help: `Usage: herald vapid-keys [--json]

Makes a new VAPID key pair (ECDSA P-256) and prints it as environment lines for the gateway and
ingest (docs/WEBPUSH.md):
  WEBPUSH_VAPID_PUBLIC_KEY=<65-byte point, base64url>    gateway and ingest; browsers subscribe with it
  WEBPUSH_VAPID_PRIVATE_KEY=<32 bytes, base64url>        ingest only: a secret
Keep the pair for as long as browsers hold subscriptions: a subscription made with one public
key is refused by its push service when pushed with another. Needs no stack and no settings.

Options:
  --json       {"publicKey","privateKey"} instead
  -h, --help   this help
`,
  options: { json: { type: 'boolean' } },
  async run({ args, io }) {
    args.positional([]);
    // Loaded here: other commands start without web-push.
    const { default: webPush } = await import('web-push');
    const { publicKey, privateKey } = webPush.generateVAPIDKeys();
    io.stdout.write(args.flag('json') ? `${JSON.stringify({ publicKey, privateKey })}\n` : `WEBPUSH_VAPID_PUBLIC_KEY=${publicKey}\nWEBPUSH_VAPID_PRIVATE_KEY=${privateKey}\n`);
  },
};
