/**
 * Write bursts (src/write-burst.ts) between a real `ws` server and a real `ws` client: a socket's
 * frames of one burst leave in two writes (the first, then the rest at the burst's end), in order,
 * every written callback called, or in one when the caller expects more; one frame per socket is
 * never held otherwise; a socket holds back
 * BURST_MAX_BYTES at most, and says it holds them (the session's slow-consumer check waits); a
 * socket destroyed during a burst ends it cleanly. The writes are
 * counted where Node hands a socket's chunks to the OS (`_writeGeneric`, for write and writev).
 */
import { once } from 'node:events';
import { Socket, type AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { waitFor } from '@herald/testing';
import { BURST_MAX_BYTES, beforeFrame, holding, inBurst, socketOf as socketOfWs } from '../src/frames/write-burst';
import { sendText } from '../src/frames/ws-frame';

interface Pair {
  server: WebSocket;
  got: string[];
  close(): Promise<void>;
}

let wss: WebSocketServer;
beforeAll(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await once(wss, 'listening');
});
afterAll(() => new Promise((resolve) => wss.close(resolve)));

async function pair(): Promise<Pair> {
  const accepted = once(wss, 'connection');
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { perMessageDeflate: false });
  const got: string[] = [];
  client.on('message', (data) => got.push(data.toString()));
  await once(client, 'open');
  const [server] = (await accepted) as [WebSocket];
  return {
    server,
    got,
    async close() {
      if (client.readyState === WebSocket.CLOSED) return;
      const closed = once(client, 'close');
      client.terminate();
      await closed;
    },
  };
}

/** The OS writes of `socket` while `work` runs. */
function writesOf(socket: Socket, work: () => void): number {
  const proto = Socket.prototype as unknown as { _writeGeneric: (...args: unknown[]) => unknown };
  const original = proto._writeGeneric;
  let writes = 0;
  proto._writeGeneric = function (this: Socket, ...args: unknown[]) {
    if (this === socket) writes++;
    return original.apply(this, args);
  };
  try {
    work();
  } finally {
    proto._writeGeneric = original;
  }
  return writes;
}

const socketOf = (ws: WebSocket): Socket => socketOfWs(ws)!;

/** `frames` pushed to `p` as a session pushes them (beforeFrame, then the frame). */
function push(p: Pair, frames: string[], written: string[]): void {
  let seen = 0;
  for (const text of frames) {
    seen = beforeFrame(p.server, seen);
    sendText(p.server, Buffer.from(text), () => written.push(text));
  }
}

it("writes a socket's frames of one burst in two writes, in order, every callback called", async () => {
  const p = await pair();
  try {
    const frames = Array.from({ length: 10 }, (_, i) => `frame ${i}`);
    const written: string[] = [];
    expect(writesOf(socketOf(p.server), () => inBurst(() => push(p, frames, written)))).toBe(2);
    await waitFor(() => p.got.length >= 10, { what: '10 frames' });
    expect(p.got).toEqual(frames);
    await waitFor(() => written.length >= 10, { what: '10 callbacks' });
    expect(written).toEqual(frames);
    expect(socketOf(p.server).writableCorked).toBe(0);
  } finally {
    await p.close();
  }
});

it('holds the first frame too when the caller expects more (a draining session)', async () => {
  const p = await pair();
  try {
    const frames = Array.from({ length: 10 }, (_, i) => `frame ${i}`);
    const writes = writesOf(socketOf(p.server), () =>
      inBurst(() => {
        let seen = 0;
        for (const text of frames) {
          seen = beforeFrame(p.server, seen, true);
          sendText(p.server, Buffer.from(text));
        }
      }),
    );
    expect(writes).toBe(1);
    await waitFor(() => p.got.length >= 10, { what: '10 frames' });
    expect(p.got).toEqual(frames);
  } finally {
    await p.close();
  }
});

it('writes each frame at once outside a burst, and one frame per socket at once inside one', async () => {
  const [a, b] = [await pair(), await pair()];
  try {
    const frames = Array.from({ length: 4 }, (_, i) => `frame ${i}`);
    expect(writesOf(socketOf(a.server), () => push(a, frames, []))).toBe(4);
    // One frame to each of two sockets in a burst: neither is held.
    let held = -1;
    inBurst(() => {
      for (const p of [a, b]) {
        beforeFrame(p.server, 0);
        sendText(p.server, Buffer.from('one'));
      }
      held = socketOf(a.server).writableLength + socketOf(b.server).writableLength;
    });
    expect(held).toBe(0);
    await waitFor(() => a.got.length >= 5 && b.got.length >= 1, { what: 'the frames' });
    expect(a.got).toEqual([...frames, 'one']);
    expect(b.got).toEqual(['one']);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

it(`holds back ${BURST_MAX_BYTES} bytes at most on one socket, and says so while it does`, async () => {
  const p = await pair();
  try {
    const seen: boolean[] = [];
    inBurst(() => {
      const burst = beforeFrame(p.server, 0);
      sendText(p.server, Buffer.from('first'));
      seen.push(holding(p.server));
      beforeFrame(p.server, burst);
      sendText(p.server, Buffer.from('second'));
      seen.push(holding(p.server));
    });
    seen.push(holding(p.server));
    expect(seen).toEqual([false, true, false]);
    // 40 KiB each: the first goes alone, the second and third are held (80 KiB), the fourth
    // lets them go and is held with the fifth until the end.
    const frames = Array.from({ length: 5 }, (_, i) => String(i).repeat(40 * 1024));
    expect(writesOf(socketOf(p.server), () => inBurst(() => push(p, frames, [])))).toBe(3);
    await waitFor(() => p.got.length >= 7, { what: '7 frames' });
    expect(p.got).toEqual(['first', 'second', ...frames]);
  } finally {
    await p.close();
  }
});

it('ends a burst cleanly when a socket is destroyed during it; a nested burst is part of the outer one', async () => {
  const [gone, kept] = [await pair(), await pair()];
  try {
    const written: Array<string | undefined> = [];
    const writes = writesOf(socketOf(kept.server), () =>
      inBurst(() => {
        push(gone, ['a', 'b', 'c'], []);
        socketOf(gone.server).destroy();
        inBurst(() => push(kept, ['x', 'y', 'z'], written as string[]));
        expect(socketOf(kept.server).writableCorked).toBe(1);
      }),
    );
    expect(writes).toBe(2);
    await waitFor(() => kept.got.length >= 3, { what: '3 frames' });
    expect(kept.got).toEqual(['x', 'y', 'z']);
    expect(socketOf(gone.server).writableCorked).toBe(0);
  } finally {
    await Promise.all([gone.close(), kept.close()]);
  }
});
