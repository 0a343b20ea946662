/**
 * The settings the CLI reads, once, through the same schema helpers as the apps. Flags override
 * each of these; then the environment; then, while `npm run dev` runs, the settings it left in
 * `.herald/dev.json` (its URLs, its Redis, its dev secret); then the built-in defaults. The AUTH_*
 * and REDIS_* names are the apps' own, so a shell set up for the apps works as it is; the HERALD_*
 * names are the CLI's.
 */
import { join } from 'node:path';
import { hostPorts, optionalStr, parseEnv, readDevStackFile, str, url, type DevStackSetting, type Parsed } from '@herald/config';

/** tools/cli/src -> the repository whose `npm run dev` this CLI belongs to. */
const REPO_ROOT = join(__dirname, '..', '..', '..');

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
  /** The secret `webhooks listen` verifies signatures with (whsec_…), instead of --secret. */
  HERALD_WEBHOOK_SECRET: optionalStr(),
  /** Redis, for `inbox` (the apps' variables). */
  REDIS_URL: url('redis://127.0.0.1:6379', ['redis:', 'rediss:']),
  REDIS_CLUSTER_NODES: hostPorts(),
  /** Where `npm run dev` leaves `dev.json` (the launcher's HERALD_DEV_DIR). */
  HERALD_DEV_DIR: str(join(REPO_ROOT, '.herald')),
};

export type CliConfig = Parsed<typeof cliSchema> & {
  /** The running `npm run dev` whose dev.json gave settings, and which ones. */
  devStack?: { path: string; settings: ReadonlySet<string> };
};

/**
 * Settings that go together: when the environment sets any variable of a group, dev.json gives
 * none of it (a REDIS_URL in the environment must not meet the stack's REDIS_CLUSTER_NODES, an
 * AUTH_JWT_SECRET the stack's HERALD_DEV_SECRET, which would win over it).
 */
const GROUPS: Array<{ fromFile: DevStackSetting[]; inEnv: string[] }> = [
  { fromFile: ['HERALD_GATEWAY_URL'], inEnv: ['HERALD_GATEWAY_URL'] },
  { fromFile: ['HERALD_INGEST_URL'], inEnv: ['HERALD_INGEST_URL'] },
  { fromFile: ['HERALD_CONSUMER_URL'], inEnv: ['HERALD_CONSUMER_URL'] },
  { fromFile: ['REDIS_URL', 'REDIS_CLUSTER_NODES'], inEnv: ['REDIS_URL', 'REDIS_CLUSTER_NODES'] },
  { fromFile: ['HERALD_DEV_SECRET'], inEnv: ['HERALD_DEV_SECRET', 'AUTH_JWT_SECRET'] },
];

/** `warn` gets one line when a dev.json is there but not used (its stack is gone, or it is unreadable). */
export function loadCliConfig(env: Record<string, string | undefined> = process.env, warn: (line: string) => void = () => undefined): CliConfig {
  const fromEnv = parseEnv(cliSchema, env);
  const found = readDevStackFile(fromEnv.HERALD_DEV_DIR);
  if (found.state === 'stale') {
    warn(`ignoring ${found.path}: the npm run dev that wrote it (pid ${found.pid}) is gone; using the environment and the defaults`);
  } else if (found.state === 'invalid') {
    warn(`ignoring ${found.path}: ${found.reason}`);
  }
  if (found.state !== 'running') return fromEnv;
  const given: Record<string, string> = {};
  for (const group of GROUPS) {
    if (group.inEnv.some((name) => env[name])) continue;
    for (const name of group.fromFile) {
      const value = found.file.settings[name];
      if (value !== undefined) given[name] = value;
    }
  }
  if (Object.keys(given).length === 0) return fromEnv;
  return { ...parseEnv(cliSchema, { ...env, ...given }), devStack: { path: found.path, settings: new Set(Object.keys(given)) } };
}

/** Where a setting's value came from, for error messages: "HERALD_INGEST_URL (or --ingest)" or the dev.json. */
export function settingOrigin(config: CliConfig, name: string, flag: string): string {
  return config.devStack?.settings.has(name)
    ? `${config.devStack.path} (npm run dev; or set ${name}, ${flag})`
    : `${name} (or ${flag})`;
}
