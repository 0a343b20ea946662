/**
 * Small text frames read without ws' receiver (ws-read.ts): the frame test itself, and a real
 * `ws` server fed the same bytes by a raw TCP client with and without it, which must see the same
 * messages, pings and close, while the small acks never reach the receiver.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import * as wsLibrary from 'ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { waitFor } from '@herald/testing';
import { readSmallTextFrames, smallTextFrame, type SmallFrameReader } from '../src/frames/ws-read';

/** ws' receiver class (exported, not in its types). */
const { Receiver } = wsLibrary as unknown as { Receiver: { prototype: { _write(...args: unknown[]): void } } };

/** A client's frame (RFC 6455 §5.2): masked with a random key unless `masked` is false. */
function frame(payload: Buffer | string, opts: { fin?: boolean; opcode?: number; rsv1?: boolean; masked?: boolean } = {}): Buffer {
  const data = Buffer.from(payload);
  const { fin = true, opcode = 1, rsv1 = false, masked = true } = opts;
  const head = [(fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode];
  if (data.length < 126) head.push((masked ? 0x80 : 0) | data.length);
  else head.push((masked ? 0x80 : 0) | 126, data.length >> 8, data.length & 0xff);
  if (!masked) return Buffer.concat([Buffer.from(head), data]);
  const key = randomBytes(4);
  return Buffer.concat([Buffer.from(head), key, data.map((b, i) => b ^ key[i & 3])]);
}

const ACK = '{"type":"ack","ids":["m-1"]}';

describe('smallTextFrame', () => {
  it('unmasks a whole final masked text frame of ASCII under 126 bytes, any key', () => {
    for (const text of [ACK, 'x', 'a'.repeat(125), '\u007f~ !', '{"type":"ack","ids":["0f8fad5b-d9cb-469f-a165-70867728950e"]}']) {
      for (let n = 0; n < 8; n++) expect(smallTextFrame(frame(text))?.toString()).toBe(text);
    }
  });

  it('leaves every other frame to ws', () => {
    const whole = frame(ACK);
    const refused = [
      frame(''), // empty: nothing to gain
      frame('a'.repeat(126)), // a 16-bit length
      frame('zoë'), // not ASCII (ws checks UTF-8)
      frame(ACK, { fin: false }),
      frame(Buffer.from(ACK), { opcode: 2 }), // binary
      frame(ACK, { opcode: 0 }), // a continuation
      frame('p', { opcode: 9 }), // ping
      frame(ACK, { rsv1: true }), // compressed
      frame(ACK, { masked: false }), // ws refuses it (1002)
      whole.subarray(0, whole.length - 1), // split: its end comes in another read
    ];
    for (const chunk of refused) expect(smallTextFrame(chunk)).toBeNull();
    expect(smallTextFrame(frame(ACK), ACK.length - 1)).toBeNull(); // above maxPayload
    expect(smallTextFrame(frame(ACK), ACK.length)?.toString()).toBe(ACK);
  });

  it('reads a frame where it starts in a read of several, whole up to its end', () => {
    const [first, second, third] = [frame(ACK), frame('{"n":2}'), frame('zoë')];
    const chunk = Buffer.concat([first, second, third]);
    expect(smallTextFrame(chunk)?.toString()).toBe(ACK);
    expect(smallTextFrame(chunk, 0, first.length)?.toString()).toBe('{"n":2}');
    expect(smallTextFrame(chunk, 0, first.length + second.length)).toBeNull(); // not ASCII
    expect(smallTextFrame(chunk, 0, 1)).toBeNull(); // not where a frame starts
    const cut = Buffer.concat([first, second.subarray(0, second.length - 1)]);
    expect(smallTextFrame(cut, 0, first.length)).toBeNull(); // its end comes in another read
  });
});

describe('a ws server reading small frames itself', () => {
  type Seen = Array<[string, string, boolean?]>;
  const servers: WebSocketServer[] = [];
  const receivers = new WeakSet<object>();
  let writes: jest.SpyInstance;

  /** A server on a free port recording what its one connection sees; `fast` reads small frames itself. */
  async function server(fast: boolean, maxPayload = 64 * 1024, read?: SmallFrameReader): Promise<{ port: number; seen: Seen; socket: () => WebSocket | undefined }> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload });
    servers.push(wss);
    await once(wss, 'listening');
    const seen: Seen = [];
    let socket: WebSocket | undefined;
    wss.on('connection', (ws) => {
      socket = ws;
      ws.on('message', (data: Buffer, isBinary: boolean) => seen.push(['message', data.toString(), isBinary]));
      if (fast) {
        readSmallTextFrames(ws, read);
        receivers.add((ws as unknown as { _receiver: object })._receiver);
      }
      ws.on('ping', (data: Buffer) => seen.push(['ping', data.toString()]));
      ws.on('error', (err: Error & { code?: string }) => seen.push(['error', String(err.code)]));
      ws.on('close', (code: number) => seen.push(['close', String(code)]));
    });
    return { port: (wss.address() as { port: number }).port, seen, socket: () => socket };
  }

  /** A raw TCP client through the opening handshake. */
  async function client(port: number, allowHalfOpen = false): Promise<Socket> {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen });
    await once(socket, 'connect');
    const key = randomBytes(16).toString('base64');
    socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    let head = '';
    while (!head.includes('\r\n\r\n')) head += ((await once(socket, 'data')) as [Buffer])[0].toString('latin1');
    expect(head).toMatch(/^HTTP\/1.1 101/);
    return socket;
  }

  /** Receiver writes made by the fast server's receivers (the plain one's are not counted). */
  const fastWrites = () => writes.mock.contexts.filter((receiver) => receivers.has(receiver as object)).length;

  beforeAll(() => {
    writes = jest.spyOn(Receiver.prototype, '_write');
  });

  afterAll(async () => {
    writes.mockRestore();
    for (const wss of servers) {
      for (const ws of wss.clients) ws.terminate();
      await new Promise((resolve) => wss.close(resolve));
    }
  });

  it('sees what ws sees, byte for byte the same input, and the small acks never reach the receiver', async () => {
    const split = frame(ACK);
    // Each step: the chunks written, and how many events it makes.
    const steps: Array<[Buffer[], number]> = [
      [[frame(ACK)], 1],
      [[frame('zoë ✓')], 1],
      [[frame('b'.repeat(300))], 1],
      [[frame(Buffer.from([1, 2, 3]), { opcode: 2 })], 1],
      [[frame('hel', { fin: false }), frame('lo', { opcode: 0 })], 1],
      [[frame('p', { opcode: 9 })], 1],
      [[Buffer.concat([frame('{"n":1}'), frame('{"n":2}')])], 2],
      [[split.subarray(0, 5), split.subarray(5)], 1],
      // Small frames, then one that is not (the rest of the read is the receiver's), and a split one.
      [[Buffer.concat([frame('{"n":3}'), frame('p2', { opcode: 9 }), frame('{"n":4}')])], 3],
      [[Buffer.concat([frame('{"n":5}'), frame('zoë 2')])], 2],
      [[Buffer.concat([frame('{"n":6}'), split.subarray(0, 3)]), split.subarray(3)], 2],
      [[frame(ACK.replace('m-1', 'm-2'))], 1],
    ];
    const TWO_SMALL = 6;
    let receiverWritesBefore = -1;
    const results: Seen[] = [];
    for (const fast of [false, true]) {
      const { port, seen, socket: serverSide } = await server(fast);
      // Half open: it goes on writing after the server has ended its side.
      const socket = await client(port, true);
      let expected = 0;
      for (const [i, [chunks, events]] of steps.entries()) {
        for (const chunk of chunks) socket.write(chunk);
        expected += events;
        await waitFor(() => seen.length >= expected, { what: `step ${i}'s events` });
        // The first small ack went to the listeners without the receiver, and so did two read together.
        if (fast && i === 0) expect(fastWrites()).toBe(0);
        if (fast && i === TWO_SMALL) expect(fastWrites()).toBe(receiverWritesBefore);
        if (fast && i === TWO_SMALL - 1) receiverWritesBefore = fastWrites();
      }
      // A close frame; once the server has read it, a small frame that must not be read.
      socket.write(frame(Buffer.from([0x03, 0xe8]), { opcode: 8 }));
      await waitFor(() => (serverSide()?.readyState ?? 0) >= 2, { what: 'the close frame read' });
      const read = () => (serverSide() as unknown as { _socket?: Socket } | undefined)?._socket?.bytesRead ?? 0;
      const [before, late] = [read(), frame('after close')];
      socket.write(late);
      // Read by the server: its listeners have run (a socket's bytes are counted as they are read).
      await waitFor(() => read() >= before + late.length, { what: 'the frame after the close read' });
      socket.destroy();
      await waitFor(() => seen.some(([kind]) => kind === 'close'), { what: 'the close' });
      results.push(seen);
    }
    const [plain, fast] = results;
    expect(fast).toEqual(plain);
    expect(plain.slice(0, 4)).toEqual([
      ['message', ACK, false],
      ['message', 'zoë ✓', false],
      ['message', 'b'.repeat(300), false],
      ['message', '\u0001\u0002\u0003', true],
    ]);
    expect(plain.at(-1)).toEqual(['close', '1000']);
    // The second ack too; every other step went to the receiver.
    expect(fastWrites()).toBeLessThan(writes.mock.contexts.length - fastWrites());
  });

  it('a reader takes the small frames it wants from bytes unmasked in place; the others come as messages, in order', async () => {
    let log: Seen = [];
    const buffers = new Set<Buffer>();
    const read: SmallFrameReader = (_ws, bytes, length) => {
      buffers.add(bytes);
      const text = bytes.toString('latin1', 0, length);
      if (!text.startsWith('{"n"')) return false;
      log.push(['read', text]);
      return true;
    };
    const { port, seen } = await server(true, 64 * 1024, read);
    log = seen;
    const socket = await client(port);
    socket.write(Buffer.concat([frame('{"n":1}'), frame(ACK), frame('{"n":22}')]));
    socket.write(frame('zoë'));
    // Read apart from the frame before it (the rest of a read that holds a frame not small goes to the receiver).
    await waitFor(() => seen.length >= 4, { what: 'four frames' });
    socket.write(frame('{"n":3}'));
    await waitFor(() => seen.length >= 5, { what: 'five frames' });
    expect(seen).toEqual([
      ['read', '{"n":1}'],
      ['message', ACK, false],
      ['read', '{"n":22}'],
      ['message', 'zoë', false],
      ['read', '{"n":3}'],
    ]);
    // One buffer, written over frame after frame.
    expect(buffers.size).toBe(1);
    socket.destroy();
  });

  it("a frame's payload that looks like a small frame, read apart from its header, is that frame's payload", async () => {
    const { port, seen, socket: serverSide } = await server(true);
    const socket = await client(port);
    // A binary frame with a zero key whose payload is the bytes of a whole small ack frame.
    const inner = frame(ACK);
    const header = Buffer.from([0x82, 0x80 | inner.length, 0, 0, 0, 0]);
    socket.write(header);
    const receiver = () => (serverSide() as unknown as { _receiver?: { _state: number } } | undefined)?._receiver;
    // The receiver has read the header and waits for the payload (ws lib/receiver.js GET_DATA).
    await waitFor(() => receiver()?._state === 4, { what: 'the header read' });
    socket.write(inner);
    await waitFor(() => seen.length > 0, { what: 'the message' });
    expect(seen).toEqual([['message', inner.toString(), true]]);
    socket.destroy();
  });

  it('a small frame over maxPayload is refused by ws (1009) as before', async () => {
    const { port, seen } = await server(true, 10);
    const socket = await client(port);
    const closing = once(socket, 'close');
    socket.write(frame(ACK));
    // The server says 1009 in its close frame (0x88, 2 bytes: 0x03f1) and lets the socket go.
    const bytes: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => bytes.push(chunk));
    await closing;
    expect(Buffer.concat(bytes).subarray(0, 4)).toEqual(Buffer.from([0x88, 0x02, 0x03, 0xf1]));
    expect(seen[0]).toEqual(['error', 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH']);
    expect(seen.filter(([kind]) => kind === 'message')).toEqual([]);
  });
});
