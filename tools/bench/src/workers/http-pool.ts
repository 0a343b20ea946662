/**
 * The api-producer's HTTP/1.1 client: `connections` keep-alive sockets with one request in flight
 * on each (as node:http's Agent with `maxSockets`), the others waiting in order for a free one. A
 * request goes out as one write (its head made once per path, only Content-Length and the body
 * differ); an answer is read from its status line and its body (by `Content-Length`, or chunks
 * without trailers).
 *
 * Why not node:http's client: on a 2-core machine the load generator takes its CPU from the stack it
 * measures, and node:http's request and response objects, streams and events cost more than the
 * request itself here (docs/BENCHMARKS.md, "A leaner producer"). Imported by a worker: Node's own
 * modules only.
 */
import { connect, type Socket } from 'node:net';

export interface Answer {
  status: number;
  text: string;
}

interface Pending {
  head: string;
  body: string;
  resolve(answer: Answer): void;
  reject(err: Error): void;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);

/** One keep-alive connection; opened when first needed, and again after it closed. */
class Connection {
  private socket?: Socket;
  private current?: Pending;
  private buffered: Buffer = EMPTY;

  constructor(
    private readonly url: URL,
    private readonly freed: (connection: Connection) => void,
  ) {}

  send(pending: Pending): void {
    this.current = pending;
    const socket = this.socket ?? this.open();
    socket.write(`${pending.head}${Buffer.byteLength(pending.body)}\r\n\r\n${pending.body}`);
  }

  private open(): Socket {
    const socket = connect({ host: this.url.hostname, port: Number(this.url.port) });
    socket.setNoDelay(true);
    // 'close' follows an error: the request in flight fails there, with the error's message.
    let failure: Error | undefined;
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('error', (err) => (failure = err));
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.buffered = EMPTY;
      this.settle(failure ?? new Error('the connection closed before the answer'));
    });
    this.socket = socket;
    return socket;
  }

  private read(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const end = this.buffered.indexOf(HEAD_END);
    if (end < 0) return;
    const head = this.buffered.toString('latin1', 0, end);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    const body = length
      ? fixedBody(this.buffered, end + HEAD_END.length, Number(length[1]))
      : /\r\ntransfer-encoding: *chunked/i.test(head)
        ? chunkedBody(this.buffered, end + HEAD_END.length)
        : new Error(`an answer without Content-Length or chunks: ${head.slice(0, 200)}`);
    if (body === undefined) return;
    if (body instanceof Error) {
      this.close(body);
      return;
    }
    const answer = { status: Number(head.slice(9, 12)), text: body };
    this.buffered = EMPTY;
    if (/\r\nconnection: *close/i.test(head)) this.close();
    this.settle(undefined, answer);
  }

  /** The request in flight answered (or failed); the connection takes the next one. */
  private settle(err: Error | undefined, answer?: Answer): void {
    const pending = this.current;
    if (!pending) return;
    this.current = undefined;
    if (err) pending.reject(err);
    else pending.resolve(answer!);
    this.freed(this);
  }

  private close(err?: Error): void {
    const socket = this.socket;
    this.socket = undefined;
    this.buffered = EMPTY;
    socket?.destroy();
    if (err) this.settle(err);
  }
}

/** The body from `start`, `length` bytes: undefined until all of it came; an error when more came. */
function fixedBody(bytes: Buffer, start: number, length: number): string | Error | undefined {
  if (bytes.length < start + length) return undefined;
  if (bytes.length > start + length) return new Error('bytes after the answer, with no request in flight');
  return bytes.toString('utf8', start, start + length);
}

/** A chunked body from `start`: undefined until its last chunk came; an error when it is not chunks. */
function chunkedBody(bytes: Buffer, start: number): string | Error | undefined {
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = parseInt(bytes.toString('latin1', at, lineEnd), 16);
    if (!Number.isInteger(size) || size < 0) return new Error('an answer whose chunks cannot be read');
    const dataEnd = lineEnd + 2 + size;
    if (bytes.length < dataEnd + 2) return undefined;
    if (size === 0) {
      return bytes.length > dataEnd + 2 ? new Error('bytes after the answer, with no request in flight') : Buffer.concat(parts).toString('utf8');
    }
    parts.push(bytes.subarray(lineEnd + 2, dataEnd));
    at = dataEnd + 2;
  }
}

export class HttpPool {
  private readonly idle: Connection[] = [];
  private readonly waiting: Pending[] = [];
  private waitingFrom = 0;
  private readonly heads = new Map<string, string>();

  constructor(
    private readonly url: URL,
    connections: number,
    private readonly headers: Readonly<Record<string, string>>,
  ) {
    for (let i = 0; i < connections; i++) this.idle.push(new Connection(url, (c) => this.next(c)));
  }

  /** POST `body` (JSON) to `path`; resolves with the answer, whatever its status. */
  post(path: string, body: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const pending = { head: this.headOf(path), body, resolve, reject };
      const connection = this.idle.pop();
      if (connection) connection.send(pending);
      else this.waiting.push(pending);
    });
  }

  private next(connection: Connection): void {
    if (this.waitingFrom === this.waiting.length) {
      this.idle.push(connection);
      return;
    }
    const pending = this.waiting[this.waitingFrom++];
    if (this.waitingFrom === this.waiting.length || this.waitingFrom >= 4096) {
      this.waiting.splice(0, this.waitingFrom);
      this.waitingFrom = 0;
    }
    connection.send(pending);
  }

  private headOf(path: string): string {
    let head = this.heads.get(path);
    if (head === undefined) {
      const lines = [`POST ${path} HTTP/1.1`, `host: ${this.url.host}`, 'content-type: application/json'];
      for (const [name, value] of Object.entries(this.headers)) lines.push(`${name}: ${value}`);
      head = `${lines.join('\r\n')}\r\ncontent-length: `;
      this.heads.set(path, head);
    }
    return head;
  }
}
