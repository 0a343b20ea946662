/**
 * The api-producer's HTTP client (workers/http-pool.ts) against a real node:http server: answers
 * reach their own requests, at most `connections` sockets carry them, kept alive; statuses pass
 * through; a connection that dies or an answer it cannot read fails its request only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { HttpPool } from '../src/workers/http-pool';

let server: Server;
let url: URL;
const sockets = new Set<Socket>();
let handle: (req: IncomingMessage, body: string, res: ServerResponse) => void;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => handle(req, body, res));
  });
  server.on('connection', (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  server.closeAllConnections();
  sockets.clear();
});

it('answers each request with its own answer, over at most `connections` kept-alive sockets', async () => {
  // Answers in a shuffled order, some a few ms late: each must still reach its own request.
  handle = (req, body, res) => {
    const { n } = JSON.parse(body) as { n: number };
    setTimeout(() => res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ n, auth: req.headers.authorization, path: req.url })), n % 3);
  };
  const pool = new HttpPool(url, 4, { authorization: 'Bearer t' });
  const answers = await Promise.all(Array.from({ length: 50 }, (_, n) => pool.post('/v1/messages', JSON.stringify({ n, text: 'é'.repeat(n) }))));
  expect(answers.map((a) => a.status)).toEqual(Array(50).fill(202));
  expect(answers.map((a) => JSON.parse(a.text) as unknown)).toEqual(Array.from({ length: 50 }, (_, n) => ({ n, auth: 'Bearer t', path: '/v1/messages' })));
  expect(sockets.size).toBe(4);
  await pool.post('/v1/messages', '{"n":0}');
  expect(sockets.size).toBe(4);
});

it('passes a status through, and a closed connection fails only its own request', async () => {
  handle = (_req, body, res) => {
    if (body === '"bad"') res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"code":"invalid"}}');
    else if (body === '"die"') res.socket?.destroy();
    else res.writeHead(202).end('{}');
  };
  const pool = new HttpPool(url, 1, {});
  await expect(pool.post('/x', '"bad"')).resolves.toEqual({ status: 400, text: '{"error":{"code":"invalid"}}' });
  const [died, after] = await Promise.allSettled([pool.post('/x', '"die"'), pool.post('/x', '"ok"')]);
  expect(died).toMatchObject({ status: 'rejected', reason: { message: 'the connection closed before the answer' } });
  expect(after).toEqual({ status: 'fulfilled', value: { status: 202, text: '{}' } });
});

it('fails a request with the reason its connection could not be made', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const { port } = closed.address() as AddressInfo;
  await new Promise((resolve) => closed.close(resolve));
  const pool = new HttpPool(new URL(`http://127.0.0.1:${port}`), 1, {});
  await expect(pool.post('/x', '{}')).rejects.toThrow('ECONNREFUSED');
});

it('reads a chunked answer, and refuses one it cannot read rather than guess where it ends', async () => {
  handle = (_req, body, res) => {
    if (body === '"raw"') {
      // Neither a length nor chunks: the body would end only with the connection.
      res.socket?.end('HTTP/1.1 202 Accepted\r\nconnection: keep-alive\r\n\r\n{"open":true}');
      return;
    }
    res.writeHead(202);
    res.write('{"chunked":');
    setTimeout(() => res.end('"é"}'), 5);
  };
  const pool = new HttpPool(url, 1, {});
  await expect(pool.post('/x', '{}')).resolves.toEqual({ status: 202, text: '{"chunked":"é"}' });
  await expect(pool.post('/x', '"raw"')).rejects.toThrow('an answer without Content-Length or chunks');
});
