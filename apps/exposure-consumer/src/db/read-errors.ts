/**
 * What an analyst query's failure means to its caller. The reader pool bounds both ways an
 * analyst query can hold up the API: a statement that runs (or waits for a lock) past
 * CONSUMER_READ_STATEMENT_TIMEOUT_MS is cancelled by Postgres, and a query that finds every reader
 * connection busy gives up after the pool's connection timeout. Each becomes a 503 with its own
 * code, never a hang and never a bare 500; anything else is passed through as it is.
 */
import { HeraldError } from '@herald/types';

/** SQLSTATE query_canceled: statement_timeout, or an operator's pg_cancel_backend. */
const QUERY_CANCELED = '57014';
/** pg-pool's error when no connection came free within connectionTimeoutMillis. */
const POOL_WAIT_TIMEOUT = 'timeout exceeded when trying to connect';

export function toReadError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  if ((err as { code?: string }).code === QUERY_CANCELED && /statement timeout/.test(err.message)) {
    return new HeraldError('QUERY_TIMEOUT');
  }
  if (err.message === POOL_WAIT_TIMEOUT) return new HeraldError('ANALYTICS_BUSY');
  return err;
}
