/**
 * Turns every error a route can meet into the Contract's body `{"error":{"code","message"}}`
 * with the status from the codes table. Stack traces never leave the process.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance } from 'fastify';
import { HeraldError, type ErrorCode } from '@herald/types';

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_BODY',
  FST_ERR_CTP_EMPTY_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
};

export function toHeraldError(err: FastifyError): HeraldError {
  if (err instanceof HeraldError) return err;
  if (err.validation) {
    const where =
      err.validationContext === 'querystring' ? 'INVALID_QUERY' : err.validationContext === 'body' ? 'INVALID_BODY' : 'BAD_REQUEST';
    return new HeraldError(where, err.message);
  }
  const mapped = err.code ? FASTIFY_CODES[err.code] : undefined;
  if (mapped) return new HeraldError(mapped);
  if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new HeraldError('BAD_REQUEST', 'The body is not valid JSON.');
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return new HeraldError('BAD_REQUEST', err.message);
  }
  return new HeraldError('INTERNAL');
}

/**
 * Errors Node's HTTP parser meets before a request exists (a head too large or too slow,
 * garbage): answered with the Contract's error body on the raw socket, which is then destroyed.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'REQUEST_TIMEOUT' : err.code === 'HPE_HEADER_OVERFLOW' ? 'HEADERS_TOO_LARGE' : 'BAD_REQUEST';
  const herald = new HeraldError(code);
  const body = JSON.stringify(herald.toBody());
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${herald.status} ${STATUS_CODES[herald.status] ?? 'Error'}\r\nConnection: close\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const herald = toHeraldError(err);
    if (herald.status >= 500) request.log.error({ err }, 'request failed');
    else request.log.info({ code: herald.code }, 'request refused');
    void reply.status(herald.status).send(herald.toBody());
  });
  app.setNotFoundHandler((_request, reply) => {
    const err = new HeraldError('NOT_FOUND');
    void reply.status(err.status).send(err.toBody());
  });
}

/** The Contract's error body `{"error":{"code","message"}}` as a response schema, for /docs. */
export const ERROR_BODY_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', description: 'Stable error code, e.g. INVALID_USER_ID.' },
        message: { type: 'string', description: 'What to do about it.' },
      },
    },
  },
} as const;

