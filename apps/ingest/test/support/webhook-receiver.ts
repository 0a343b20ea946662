/**
 * A webhook receiver for tests: a real HTTP server on 127.0.0.1 that verifies every request's
 * Standard Webhooks signature with the endpoint's secret and records it, answering as the test
 * decides (`answer`: a status, or `'hang'` to hold the request until `release()`).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { WebhookBody } from '@herald/types';

export interface Received {
  webhookId: string;
  body: WebhookBody;
  /** The signature verified with the secret. */
  verified: boolean;
  /** What the receiver answered (`hang`: held). */
  answered: number | 'hang';
}

export type Answer = (req: { webhookId: string; count: number }) => number | 'hang';

export interface Receiver {
  port: number;
  url(path?: string): string;
  secret?: string;
  received: Received[];
  /** Requests open right now (not yet answered), and the most seen at once. */
  open(): number;
  maxOpen(): number;
  answer: Answer;
  /** Answer every held request 200 and hold no more. */
  release(): void;
  close(): Promise<void>;
}

export async function startReceiver(port: number, answer: Answer = () => 200): Promise<Receiver> {
  const held: Array<{ res: http.ServerResponse; record: Received }> = [];
  let open = 0;
  let maxOpen = 0;
  let released = false;
  const receiver: Receiver = {
    port,
    url: (path = '/hook') => `http://127.0.0.1:${port}${path}`,
    received: [],
    open: () => open,
    maxOpen: () => maxOpen,
    answer,
    release() {
      released = true;
      for (const { res, record } of held.splice(0)) {
        record.answered = 200;
        res.writeHead(200).end();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        receiver.release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => {
    open += 1;
    maxOpen = Math.max(maxOpen, open);
    res.on('close', () => (open -= 1));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const headers = req.headers as Record<string, string>;
      let verified = false;
      try {
        new Webhook(receiver.secret ?? 'whsec_').verify(text, headers);
        verified = true;
      } catch {
        verified = false;
      }
      const webhookId = headers['webhook-id'];
      const status = released ? 200 : receiver.answer({ webhookId, count: receiver.received.length });
      const record: Received = { webhookId, body: JSON.parse(text) as WebhookBody, verified, answered: status };
      receiver.received.push(record);
      if (status === 'hang') held.push({ res, record });
      else res.writeHead(status).end(status >= 300 ? 'not now' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  expectPort(server, port);
  return receiver;
}

function expectPort(server: http.Server, port: number): void {
  if ((server.address() as AddressInfo).port !== port) throw new Error(`receiver listens on another port than ${port}`);
}
