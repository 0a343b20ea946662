/**
 * Prepared text frames (src/ws-frame.ts) between a real `ws` server and real `ws` clients: every
 * length form of the header (7-bit, 16-bit, 64-bit) arrives whole and as text; one frame is built
 * once per payload; prepared frames keep their place among the frames `ws` writes itself, also
 * while its sender is busy compressing (then `ws.send` queues them).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { waitFor } from '@herald/testing';
import { sendText, textFrame } from '../src/frames/ws-frame';

interface Pair {
  server: WebSocket;
  client: WebSocket;
  /** Text messages the client received, in order. */
  got: string[];
  close(): Promise<void>;
}

async function pair(perMessageDeflate: boolean): Promise<Pair> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate });
  await once(wss, 'listening');
  const accepted = once(wss, 'connection');
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { perMessageDeflate });
  const got: string[] = [];
  client.on('message', (data, isBinary) => got.push(isBinary ? `binary:${data.toString()}` : data.toString()));
  await once(client, 'open');
  const [server] = (await accepted) as [WebSocket];
  return {
    server,
    client,
    got,
    async close() {
      client.terminate();
      await new Promise((resolve) => wss.close(resolve));
    },
  };
}

async function until(p: Pair, n: number): Promise<void> {
  await waitFor(() => p.got.length >= n || p.client.readyState !== WebSocket.OPEN, { what: `${n} messages` });
  expect(p.client.readyState).toBe(WebSocket.OPEN);
}

it('sends every header length form whole, as text', async () => {
  const p = await pair(false);
  try {
    const sizes = [0, 1, 125, 126, 127, 65_535, 65_536, 200_000];
    const payloads = sizes.map((n, i) => 'é'.repeat(Math.floor(n / 2)) + String(i % 10).repeat(n % 2));
    for (const text of payloads) sendText(p.server, Buffer.from(text));
    await until(p, payloads.length);
    expect(p.got.map((t) => Buffer.byteLength(t))).toEqual(payloads.map((t) => Buffer.byteLength(t)));
    expect(p.got).toEqual(payloads);
  } finally {
    await p.close();
  }
});

it('builds the frame once per payload buffer', () => {
  const payload = Buffer.from('{"type":"message"}');
  const frame = textFrame(payload);
  expect(textFrame(payload)).toBe(frame);
  expect([...frame.subarray(0, 2)]).toEqual([0x81, payload.length]);
  expect(textFrame(Buffer.from('{"type":"message"}'))).not.toBe(frame);
});

it('keeps its place among the frames ws writes itself, the written callback included', async () => {
  const p = await pair(false);
  try {
    const written: string[] = [];
    p.server.send('one');
    sendText(p.server, Buffer.from('two'), () => written.push('two'));
    p.server.send('three');
    sendText(p.server, Buffer.from('four'), () => written.push('four'));
    await until(p, 4);
    expect(p.got).toEqual(['one', 'two', 'three', 'four']);
    expect(written).toEqual(['two', 'four']);
  } finally {
    await p.close();
  }
});

it('waits behind a frame being compressed (ws.send queues it) rather than overtaking it', async () => {
  const p = await pair(true);
  try {
    const big = 'x'.repeat(100_000);
    p.server.send(big);
    sendText(p.server, Buffer.from('after'));
    await until(p, 2);
    expect(p.got).toEqual([big, 'after']);
  } finally {
    await p.close();
  }
});
