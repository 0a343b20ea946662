/**
 * The environment the CLI reads, once, through the same schema helpers as the apps. Flags override
 * each of these. The AUTH_* and REDIS_* names are the apps' own, so a shell set up for
 * `npm run dev` works as it is; the HERALD_* names are the CLI's.
 */
import { hostPorts, optionalStr, parseEnv, url, type Parsed } from '@herald/config';

export const cliSchema = {
  /** The gateway's WebSocket URL (`tail`). */
  HERALD_GATEWAY_URL: url('ws://127.0.0.1:8080/ws', ['ws:', 'wss:']),
  /** The ingest API (`send`, `categories`). */
  HERALD_INGEST_URL: url('http://127.0.0.1:8081', ['http:', 'https:']),
  /** The exposure-consumer API (`exposures`). */
  HERALD_CONSUMER_URL: url('http://127.0.0.1:8082', ['http:', 'https:']),
  /** A bearer token for the HTTP commands (a producer's or an analyst's). */
  HERALD_TOKEN: optionalStr(),
  /** The development secret to mint tokens with; AUTH_JWT_SECRET when unset. */
  HERALD_DEV_SECRET: optionalStr(),
  AUTH_JWT_SECRET: optionalStr(),
  AUTH_ISSUER: optionalStr(),
  AUTH_AUDIENCE: optionalStr(),
  /** Redis, for `inbox` (the apps' variables). */
  REDIS_URL: url('redis://127.0.0.1:6379', ['redis:', 'rediss:']),
  REDIS_CLUSTER_NODES: hostPorts(),
};

export type CliConfig = Parsed<typeof cliSchema>;

export function loadCliConfig(env: Record<string, string | undefined> = process.env): CliConfig {
  return parseEnv(cliSchema, env);
}
