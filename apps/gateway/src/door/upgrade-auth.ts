/**
 * Reject before you accept: the token of an upgrade request is checked before the WebSocket
 * handshake, and a refusal is a plain HTTP response on the raw socket, which is then destroyed.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { bearerToken } from '@herald/auth';
import { ErrorCodes, type ErrorCode } from '@herald/types';

/** The token from `Authorization: Bearer …`, or the `access_token` query parameter (browsers). */
export function upgradeToken(request: IncomingMessage): string | undefined {
  const fromHeader = bearerToken(request.headers.authorization);
  if (fromHeader) return fromHeader;
  const url = request.url ?? '';
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  return new URLSearchParams(url.slice(q + 1)).get('access_token') ?? undefined;
}

/**
 * The `sub` a JWT claims, read without checking the signature: good only for refusing early (a
 * user in the abuse cooldown). A forged `sub` can only get its sender refused, never admitted.
 */
export function claimedSubject(token: string | undefined): string | undefined {
  const payload = token?.split('.')[1];
  if (!payload) return undefined;
  try {
    const sub = (JSON.parse(Buffer.from(payload, 'base64url').toString()) as { sub?: unknown }).sub;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  503: 'Service Unavailable',
};

/** Answer the upgrade request with an HTTP error and the Contract error body, then drop the socket. */
export function refuseUpgrade(socket: Duplex, code: ErrorCode, extraHeaders: Record<string, string> = {}): void {
  const { status, message } = ErrorCodes[code];
  const body = JSON.stringify({ error: { code, message } });
  const headers = {
    Connection: 'close',
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(body)),
    ...extraHeaders,
  };
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
      Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('') +
      `\r\n${body}`,
    () => socket.destroy(),
  );
}
