/** Errors of the client SDK, each with a stable code and a message that says what to do. */
export const ClientErrorCodes = {
  INVALID_OPTION: 'An option of HeraldClient is invalid; the message names it.',
  NO_WEBSOCKET:
    'There is no global WebSocket here (Node before 22): pass the `ws` package\'s class as the option, `new HeraldClient({ WebSocket, … })`.',
  TOKEN_REJECTED: 'The gateway refused the token and there is no token provider to get another; pass `token` as a function.',
  TERMINAL_CLOSE: 'The gateway closed the connection with a code after which reconnecting would not help (see docs/CLIENT.md).',
  DISCONNECTED: 'The connection ended and reconnecting is turned off (option `reconnect: false`).',
  REFUSED: 'The gateway refused the connection (wrong URL or Origin not allowed); reconnecting would not help.',
  CONNECT_FAILED: 'The WebSocket implementation refused to open the connection (for example ws:// from an https:// page).',
  CLOSED: 'The client was closed.',
} as const;

export type ClientErrorCode = keyof typeof ClientErrorCodes;

export class HeraldClientError extends Error {
  readonly code: ClientErrorCode;
  /** The close code (or HTTP status of a refused upgrade) that stopped the client, when there was one. */
  readonly closeCode?: number;

  constructor(code: ClientErrorCode, message: string = ClientErrorCodes[code], closeCode?: number) {
    super(message);
    this.name = 'HeraldClientError';
    this.code = code;
    this.closeCode = closeCode;
  }
}
