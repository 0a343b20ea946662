/**
 * A WebSocket client that only counts what it gets: the bench runs thousands of frames through
 * a handful of them, so they neither parse nor keep message frames (TestClient does both).
 */
import WebSocket from 'ws';

const MESSAGE_PREFIX = Buffer.from('{"type":"message"');
const WELCOME_PREFIX = Buffer.from('{"type":"welcome"');

export class CountingClient {
  messages = 0;
  welcomed = false;
  closeCode?: number;
  /** The first frame that was neither a welcome nor a message (an error frame, say). */
  unexpected?: string;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      if (data.subarray(0, MESSAGE_PREFIX.length).equals(MESSAGE_PREFIX)) this.messages++;
      else if (data.subarray(0, WELCOME_PREFIX.length).equals(WELCOME_PREFIX)) this.welcomed = true;
      else this.unexpected ??= data.toString().slice(0, 200);
    });
    ws.on('close', (code) => (this.closeCode = code));
  }

  /** Resolves once the socket is open (the gateway then drains and sends `welcome`). */
  static connect(wsUrl: string, token: string): Promise<CountingClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
      const client = new CountingClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`the gateway refused the connection with ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
