/**
 * One pino logger per process; modules take `logger.child({ module: '…' })`. Secrets are redacted
 * wherever they might appear (headers, tokens, connection strings).
 */
import pino, { type Logger, type LevelWithSilent, type DestinationStream } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'token',
  'accessToken',
  'access_token',
  'secret',
  '*.secret',
  '*.token',
  'config.AUTH_JWT_SECRET',
  'config.DATABASE_URL',
  'AUTH_JWT_SECRET',
  'DATABASE_URL',
];

export interface LoggerOptions {
  /** The app's name, in every line as `app`. */
  app: string;
  level: LevelWithSilent;
  /** Where lines go; stdout by default. */
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level,
      base: { app: opts.app, pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination,
  );
}

/** Query strings can carry `access_token`; log URLs through this. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]access_token=)[^&]*/g, '$1[redacted]');
}
