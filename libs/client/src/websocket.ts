/**
 * The little of a WebSocket the SDK needs, so that the browser's `WebSocket`, Node 22's global one
 * and the `ws` package all fit, and the SDK itself never imports `ws` (a browser bundle must not).
 */

/** `readyState` values (the same numbers in every implementation). */
export const ReadyState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;

export interface MessageEventLike {
  data: unknown;
}

export interface CloseEventLike {
  code: number;
  reason: string;
}

export interface ErrorEventLike {
  /** `ws` puts the failure here, e.g. "Unexpected server response: 401"; browsers say nothing. */
  message?: string;
}

/**
 * The handler properties take `never`, so that every implementation's own event types fit (a
 * handler for `ws`'s MessageEvent is one for "some event"); the SDK's handlers annotate what they
 * read (MessageEventLike, …), which every implementation provides.
 */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** What `new WebSocket(url)` must give: the browser's constructor, or `ws`'s `WebSocket`. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/**
 * The extras of the `ws` package, found by feature, not by name: server pings (a browser answers
 * them itself and never shows them) and an immediate `terminate()`.
 */
interface NodeSocketExtras {
  on(event: 'ping', listener: () => void): unknown;
  terminate(): void;
}

function hasNodeExtras(ws: WebSocketLike): ws is WebSocketLike & NodeSocketExtras {
  const candidate = ws as Partial<NodeSocketExtras>;
  return typeof candidate.on === 'function' && typeof candidate.terminate === 'function';
}

/** Calls `listener` on every server ping; false when this implementation cannot show pings. */
export function onPing(ws: WebSocketLike, listener: () => void): boolean {
  if (!hasNodeExtras(ws)) return false;
  ws.on('ping', listener);
  return true;
}

/**
 * Drop the connection now: `terminate()` where there is one (no closing handshake with a peer that
 * may be gone), else a close with a private-use code.
 */
export function dropSocket(ws: WebSocketLike, code: number, reason: string): void {
  if (hasNodeExtras(ws)) ws.terminate();
  else ws.close(code, reason);
}

/** The global WebSocket (browsers, Node 22+), or undefined (Node 20 without a flag). */
export function globalWebSocket(): WebSocketConstructor | undefined {
  const candidate = (globalThis as { WebSocket?: unknown }).WebSocket;
  return typeof candidate === 'function' ? (candidate as WebSocketConstructor) : undefined;
}

/** The HTTP status of a refused upgrade, where the implementation reveals it (`ws` does; browsers never). */
export function refusalStatus(event: ErrorEventLike): number | undefined {
  const match = /Unexpected server response: (\d{3})/.exec(event.message ?? '');
  return match ? Number(match[1]) : undefined;
}
