/**
 * WebSocket close codes the gateway uses (Contract). One table: each code with the sentence a
 * client developer needs to decide whether to reconnect.
 */
export const CloseCode = {
  /** Normal closure. */
  NORMAL: 1000,
  /** A frame over the size limit was received. */
  FRAME_TOO_BIG: 1009,
  /** The server is restarting; reconnect with jitter (another replica will take you). */
  SERVER_RESTART: 1012,
  /** The server is overloaded; try again later. */
  OVERLOADED: 1013,
  /** The token expired or is invalid; get a new token before reconnecting. */
  TOKEN_EXPIRED: 4001,
  /** Policy violation: rate or connection limit, repeated bad frames. */
  POLICY: 4008,
  /** Slow consumer: the send buffer went over its bound. */
  SLOW_CONSUMER: 4009,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** The reason string sent with each close code (at most 123 bytes by the WebSocket spec). */
export const closeReason: Record<CloseCode, string> = {
  [CloseCode.NORMAL]: 'normal closure',
  [CloseCode.FRAME_TOO_BIG]: 'frame too big',
  [CloseCode.SERVER_RESTART]: 'server restarting, reconnect with jitter',
  [CloseCode.OVERLOADED]: 'server overloaded, try again later',
  [CloseCode.TOKEN_EXPIRED]: 'token expired or invalid',
  [CloseCode.POLICY]: 'policy violation',
  [CloseCode.SLOW_CONSUMER]: 'slow consumer: send buffer over its bound',
};

/**
 * Close codes the gateway never sends, but a client meets or sends itself. Kept beside the
 * Contract table so that no code is a bare number anywhere.
 */
export const ClientCloseCode = {
  /** RFC 6455: the connection failed or broke without a close frame (never sent on the wire). */
  ABNORMAL: 1006,
  /** Private use: the client drops a connection it considers dead (no heartbeat, no welcome). */
  DROPPED: 4000,
} as const;
