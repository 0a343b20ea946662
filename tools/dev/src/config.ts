/**
 * The launcher's own settings (`npm run dev`), read once from the environment. Everything else in
 * the environment goes to the apps as it is (see libs/stack `startStack`).
 */
import { join } from 'node:path';
import { int, optionalStr, parseEnv, str, type Parsed } from '@herald/config';
import { DEFAULT_ADMIN_PORT, DEFAULT_PORTS, REPO_ROOT } from '@herald/stack';

export const devSchema = {
  /**
   * Where the launcher keeps what it leaves behind while it runs: `dev.json` (the endpoints, for
   * the herald CLI), `dev-run.json` (the processes it started, for its watchdog and the next
   * start) and, unless EMBEDDED_PG_DIR says otherwise, the embedded Postgres in `postgres/`.
   */
  HERALD_DEV_DIR: str(join(REPO_ROOT, '.herald')),
  /** The gateway's port. */
  HERALD_DEV_GATEWAY_PORT: int(DEFAULT_PORTS.gateway, 1, 65535),
  /** The ingest API's port. */
  HERALD_DEV_INGEST_PORT: int(DEFAULT_PORTS.ingest, 1, 65535),
  /** The gateway's admin port (/metrics, detailed /readyz). */
  HERALD_DEV_ADMIN_PORT: int(DEFAULT_ADMIN_PORT, 1, 65535),
  /** The exposure-consumer API's port. */
  HERALD_DEV_CONSUMER_PORT: int(DEFAULT_PORTS['exposure-consumer'], 1, 65535),
  /** The consumer's own: with it there is no embedded Postgres for the launcher to look after. */
  DATABASE_URL: optionalStr(),
  /** The consumer's own; unset, the launcher gives it `<HERALD_DEV_DIR>/postgres`. */
  EMBEDDED_PG_DIR: optionalStr(),
};

export type DevConfig = Parsed<typeof devSchema>;

export function loadDevConfig(env: Record<string, string | undefined> = process.env): DevConfig {
  return parseEnv(devSchema, env);
}
