/**
 * What the client does after its connection ends, decided from the close code (Contract table in
 * @herald/types close-codes) or, where the WebSocket implementation shows it, from the HTTP status
 * of a refused upgrade. docs/CLIENT.md explains each choice.
 */
import { ClientCloseCode, CloseCode } from '@herald/types';
import type { DisconnectInfo, StoppedInfo } from './client-events';
import type { ConnectionEnd } from './connection';
import { HeraldClientError } from './errors';

/**
 * - `reconnect`: wait a backoff delay (exponential, full jitter), then connect again.
 * - `restart`: the server is restarting; reconnect soon, after a jittered pause, backoff reset.
 * - `refresh`: the token was refused; get a new one from the token provider, then reconnect.
 * - `stop`: terminal; reconnecting would be refused again or make things worse.
 */
export type CloseAction = 'reconnect' | 'restart' | 'refresh' | 'stop';

/**
 * Codes after which the client stops. 1009: the client sent a frame over the server's limit (a
 * client bug: the same frame would be sent again). 4008: policy (bad frames, frame rate, or the
 * user's connection limit): the table says "fix the client", and an automatic reconnect would add
 * one more connection to a user who already has too many.
 */
export const TERMINAL_CLOSE_CODES: ReadonlySet<number> = new Set([CloseCode.FRAME_TOO_BIG, CloseCode.POLICY]);

/** Close code the client reports when it never reached the server or the connection broke (RFC 6455 1006). */
export const ABNORMAL_CLOSURE = ClientCloseCode.ABNORMAL;

/**
 * @param canRefresh whether a new token can be had (a token provider function, not a fixed string)
 */
export function closeAction(code: number, canRefresh: boolean): CloseAction {
  if (code === CloseCode.TOKEN_EXPIRED) return canRefresh ? 'refresh' : 'stop';
  if (code === CloseCode.SERVER_RESTART) return 'restart';
  if (TERMINAL_CLOSE_CODES.has(code)) return 'stop';
  // 1013 overloaded, 4009 slow consumer, 1006 network, 1000/1001 and anything unknown: back off
  // and try again; the growing delay bounds what a misbehaving server can cost.
  return 'reconnect';
}

/**
 * A refused upgrade (only seen where the implementation reveals the status, e.g. `ws` in Node).
 * 401: the token; 403 (Origin not allowed) and 404 (wrong path) will not change by retrying;
 * 503 and the rest: retry with backoff.
 */
export function refusalAction(status: number, canRefresh: boolean): CloseAction {
  if (status === 401) return canRefresh ? 'refresh' : 'stop';
  if (status === 403 || status === 404) return 'stop';
  return 'reconnect';
}

/**
 * How the client reports stopping after `end`.
 * @param terminal whether the end itself was terminal (else: reconnecting is turned off)
 */
export function stoppedInfo(end: ConnectionEnd, terminal: boolean): StoppedInfo {
  const status = end.refusedStatus;
  let error: HeraldClientError;
  if (!terminal) {
    const how = status ? `HTTP ${status}` : `${end.code} ${end.reason}`;
    error = new HeraldClientError('DISCONNECTED', `The connection ended (${how}) and reconnect is off.`, status ?? end.code);
  } else if (status === 401 || (status === undefined && end.code === CloseCode.TOKEN_EXPIRED)) {
    error = new HeraldClientError('TOKEN_REJECTED', undefined, status ?? end.code);
  } else if (status !== undefined) {
    const message = `The gateway refused the connection with HTTP ${status}; reconnecting would not help.`;
    error = new HeraldClientError('REFUSED', message, status);
  } else {
    error = new HeraldClientError(
      'TERMINAL_CLOSE',
      `The gateway closed the connection with ${end.code} (${end.reason || 'no reason'}); reconnecting would not help.`,
      end.code,
    );
  }
  return { code: status ?? end.code, reason: end.reason, error };
}

/** The close code and reason of a `disconnect` event. */
export function describeEnd(end: ConnectionEnd): Pick<DisconnectInfo, 'code' | 'reason' | 'refusedStatus'> {
  return end.refusedStatus === undefined
    ? { code: end.code, reason: end.reason }
    : { code: end.code, reason: end.reason || `upgrade refused with HTTP ${end.refusedStatus}`, refusedStatus: end.refusedStatus };
}
