/** A real WebSocket client for tests: collects frames and lets a test wait for them with a deadline. */
import WebSocket from 'ws';
import { waitFor } from '@herald/stack';
import type { ServerFrame, MessageFrame } from '@herald/types';

export interface Refusal {
  status: number;
  body: string;
  headers?: Record<string, string | string[] | undefined>;
}

export interface ConnectOptions {
  viaQuery?: boolean;
  localAddress?: string;
  origin?: string;
}

export class TestClient {
  readonly frames: ServerFrame[] = [];
  closeCode?: number;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.frames.push(JSON.parse(data.toString()) as ServerFrame));
    ws.on('close', (code) => (this.closeCode = code));
  }

  /**
   * Connect; resolves once open, or rejects with the HTTP refusal. `localAddress` picks the source
   * address (127.0.0.2, …), `origin` sends an Origin header as a browser would.
   */
  static connect(url: string, token?: string, opts: ConnectOptions = {}): Promise<TestClient> {
    const { viaQuery = false, localAddress, origin } = opts;
    const target = token && viaQuery ? `${url}?access_token=${encodeURIComponent(token)}` : url;
    const headers: Record<string, string> = token && !viaQuery ? { Authorization: `Bearer ${token}` } : {};
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(target, { headers, localAddress, origin });
      const client = new TestClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () =>
          reject(Object.assign(new Error(`refused with ${res.statusCode}`), { status: res.statusCode, body, headers: res.headers })),
        );
      });
      ws.once('error', reject);
    });
  }

  /** Connect expecting a refusal; resolves with its status and body. */
  static async refusal(url: string, token?: string, opts: ConnectOptions = {}): Promise<Refusal> {
    try {
      const client = await TestClient.connect(url, token, opts);
      client.close();
    } catch (err) {
      const e = err as { status?: number; body?: string; headers?: Refusal['headers'] };
      if (e.status) return { status: e.status, body: e.body ?? '', headers: e.headers };
      throw err;
    }
    throw new Error('the connection was accepted');
  }

  messages(): MessageFrame[] {
    return this.frames.filter((f): f is MessageFrame => f.type === 'message');
  }

  /** Wait until `n` message frames have arrived; returns them all. */
  async waitForMessages(n: number, timeoutMs = 10_000): Promise<MessageFrame[]> {
    await waitFor(() => this.messages().length >= n, { timeoutMs, what: `${n} messages (have ${this.messages().length})` });
    return this.messages();
  }

  async waitForFrame<T extends ServerFrame['type']>(type: T, timeoutMs = 10_000): Promise<Extract<ServerFrame, { type: T }>> {
    return (await waitFor(() => this.frames.find((f) => f.type === type), { timeoutMs, what: `a ${type} frame` })) as Extract<
      ServerFrame,
      { type: T }
    >;
  }

  async waitForClose(timeoutMs = 10_000): Promise<number> {
    return waitFor(() => this.closeCode, { timeoutMs, what: 'the close' });
  }

  ack(ids: string[]): void {
    this.ws.send(JSON.stringify({ type: 'ack', ids }));
  }

  send(raw: string): void {
    this.ws.send(raw);
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
