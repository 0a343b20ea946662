/**
 * `herald webhooks listen`: a local HTTP receiver for Herald's webhooks. Each POST is verified per
 * Standard Webhooks with the endpoint's secret (the `standardwebhooks` package: signature, and a
 * timestamp within 5 minutes); a verified batch prints one JSON line per event on stdout and is
 * answered 204, anything else is answered 401 (400 for a body that is not a batch) with one line
 * on stderr, and prints nothing. A batch whose `webhook-id` was printed already (Herald retried
 * because an answer was lost) is answered 204 again and not printed twice.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { WebhookBody } from '@herald/types';

/** Largest body read (Herald's batches are far smaller). */
const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** webhook-ids remembered to skip repeats. */
const SEEN_IDS = 10_000;

export interface ListenOptions {
  host: string;
  port: number;
  secret: string;
  /** One JSON line per event. */
  print(line: string): void;
  /** Status lines (listening, rejected requests). */
  say(line: string): void;
  /** Called after each printed event with the total so far. */
  onEvent?(total: number): void;
}

export interface Listener {
  url: string;
  close(): Promise<void>;
}

export async function listenForWebhooks(opts: ListenOptions): Promise<Listener> {
  const webhook = new Webhook(opts.secret);
  const seen = new Set<string>();
  let total = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        res.writeHead(413).end();
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (res.writableEnded) return;
      const text = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['webhook-id'] ?? '');
      let body: WebhookBody;
      try {
        body = webhook.verify(text, req.headers as Record<string, string>) as WebhookBody;
      } catch (err) {
        opts.say(`rejected ${req.method} ${req.url} webhook-id ${id || '(none)'}: ${(err as Error).message}`);
        res.writeHead(401).end();
        return;
      }
      if (!Array.isArray(body?.data?.events)) {
        opts.say(`rejected webhook-id ${id}: the body has no data.events`);
        res.writeHead(400).end();
        return;
      }
      if (!seen.has(id)) {
        remember(seen, id);
        for (const event of body.data.events) {
          opts.print(JSON.stringify(event));
          total += 1;
          opts.onEvent?.(total);
        }
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function remember(seen: Set<string>, id: string): void {
  seen.add(id);
  if (seen.size > SEEN_IDS) seen.delete(seen.values().next().value as string);
}
