/**
 * Frames released together (one exposure log batch: exposure/wal-writer.ts) that go to the same
 * socket leave it in one write system call. The first frame of a burst to a socket is written as
 * it comes; if a second one follows in the same burst, the socket is corked until the burst ends,
 * and Node hands everything it held to the OS in one `writev`. A drain's frame (`eager`: more
 * are likely to follow) has its socket corked at the first frame. A drain pushes a
 * reconnecting user's missed messages in one turn, so ten of them cost one write instead of ten
 * (docs/BENCHMARKS.md, "A drain's frames in one write"); a broadcast, one frame per session, never
 * corks one.
 *
 * A burst is synchronous (the loop that writes a batch's frames), so one module-wide state serves
 * every gateway of the process. A socket holds back BURST_MAX_BYTES at most: past them, what it
 * holds goes out at once and it is corked again for the rest of the burst. What a burst holds is
 * not the client's slowness: `holding()` tells the session's slow-consumer check (4009) to wait
 * for the next frame, which comes before the next burst holds anything.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/** Bytes a burst holds back on one socket, at most. */
export const BURST_MAX_BYTES = 64 * 1024;

/** The burst under way (0: none), and the last one given a number. */
let current = 0;
let last = 0;
/** Sockets corked by the burst under way. */
const corked: Socket[] = [];

/** The TCP socket under a `ws` connection (ws' own field: it has no public accessor). */
export function socketOf(ws: WebSocket): Socket | undefined {
  return (ws as unknown as { _socket?: Socket })._socket;
}

/** Run `sends` as one burst; a burst started inside another is part of it. */
export function inBurst(sends: () => void): void {
  if (current !== 0) return sends();
  current = ++last;
  try {
    sends();
  } finally {
    current = 0;
    for (const socket of corked) socket.uncork();
    corked.length = 0;
  }
}

/**
 * Call right before a frame is written to `ws`. `seen` is what this returned for the frame before
 * it on the same socket (the caller keeps it, 0 at first); keep what it returns for the next one.
 * `eager`: more frames are likely to follow in this burst (a drain's): hold this one already.
 */
export function beforeFrame(ws: WebSocket, seen: number, eager = false): number {
  if (current === 0) return 0;
  if (seen === current || eager) {
    const socket = socketOf(ws);
    if (socket && !socket.destroyed) {
      if (socket.writableCorked === 0) {
        socket.cork();
        corked.push(socket);
      } else if (socket.writableLength >= BURST_MAX_BYTES) {
        // Let what it holds go now; the rest of the burst is held again.
        socket.uncork();
        socket.cork();
      }
    }
  }
  return current;
}

/** True while the burst under way holds frames back on `ws`'s socket. */
export function holding(ws: WebSocket): boolean {
  if (current === 0) return false;
  const socket = socketOf(ws);
  return socket !== undefined && socket.writableCorked > 0;
}
