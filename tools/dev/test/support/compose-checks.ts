/**
 * The checks of docker-compose.yml against the config schema (deploy-artifacts.spec.ts): each
 * returns a list of problems, empty when the file is right.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  APP_NAMES,
  EXTRA_ENV,
  LOADERS,
  ROOT,
  SCHEMAS,
  adminPortOf,
  isApp,
  knownTo,
  portOf,
  shutdownMsOf,
  type AppName,
} from './deploy-config';
import { checkComposeExposure, type ComposeEnvEntry } from './deploy-exposure';

/**
 * Start-up order that no variable shows: exposure events published before the subscription
 * exists are dropped by Pub/Sub, and the emulator starts empty, so the gateway and ingest (its event relay) wait for the
 * consumer (it creates the subscription before it answers /healthz).
 */
const START_AFTER: Partial<Record<AppName, AppName[]>> = { gateway: ['exposure-consumer'], ingest: ['exposure-consumer'] };
/** Variables that must mean the same thing in every app that reads them. */
const SHARED_VARIABLES = [
  'AUTH_JWT_SECRET',
  'AUTH_JWKS_URL',
  'AUTH_ISSUER',
  'AUTH_AUDIENCE',
  'REDIS_URL',
  'REDIS_CLUSTER_NODES',
  'PUBSUB_PROJECT_ID',
  'PUBSUB_EMULATOR_HOST',
  'EXPOSURE_TOPIC',
];


interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string; args?: Record<string, string> };
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | number | { target: number; published: number | string })[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  stop_grace_period?: string;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  volumes?: (string | { type?: string; source?: string; target: string })[];
}
export interface Compose {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/**
 * What an operator must set before `docker compose up` (the file refuses to start without it,
 * `${VAR:?message}`); the checks use a fresh value, never this machine's environment.
 */
const OPERATOR_ENV: Record<string, string> = { AUTH_JWT_SECRET: randomBytes(32).toString('hex') };

/** Compose's `${VAR:-default}` interpolation, with the defaults and OPERATOR_ENV only (never this machine's env). */
function interpolate(value: string): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}/g, (match, name: string, op: string | undefined, word: string) =>
    match === '$$' ? '$' : op?.endsWith('-') ? word : op?.endsWith('?') ? (OPERATOR_ENV[name] ?? '') : '',
  );
}

/** The environment as written, before interpolation. */
function rawComposeEnv(service: ComposeService): ComposeEnvEntry[] {
  const env = service.environment ?? {};
  return Array.isArray(env)
    ? env.map((item) => {
        const i = item.indexOf('=');
        return i < 0 ? [item, ''] : [item.slice(0, i), item.slice(i + 1)];
      })
    : Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]);
}

function composeEnv(service: ComposeService): Record<string, string> {
  return Object.fromEntries(rawComposeEnv(service).map(([k, v]) => [k, interpolate(v)]));
}

/** Published ports; `hostIp` is the interface (undefined: every interface), `rawHostIp` as written. */
function composePorts(service: ComposeService): { published: number; target: number; hostIp?: string; rawHostIp?: string }[] {
  return (service.ports ?? []).map((p) => {
    if (typeof p === 'object') {
      const raw = (p as { host_ip?: string }).host_ip;
      return { published: Number(p.published), target: Number(p.target), hostIp: raw === undefined ? undefined : interpolate(raw), rawHostIp: raw };
    }
    const text = String(p).split('/')[0];
    const parts = interpolate(text).split(':');
    const target = Number(parts[parts.length - 1]);
    const published = parts.length > 1 ? Number(parts[parts.length - 2]) : NaN;
    const hostIp = parts.length > 2 ? parts.slice(0, -2).join(':') : undefined;
    const rawHostIp = hostIp === undefined ? undefined : text.slice(0, text.lastIndexOf(':', text.lastIndexOf(':') - 1));
    return { published, target, hostIp, rawHostIp };
  });
}

function dependsOn(service: ComposeService): Record<string, string | undefined> {
  const d = service.depends_on ?? [];
  if (Array.isArray(d)) return Object.fromEntries(d.map((name) => [name, undefined]));
  return Object.fromEntries(Object.entries(d).map(([name, v]) => [name, v?.condition]));
}

const commandArgs = (service: ComposeService): string[] =>
  Array.isArray(service.command) ? service.command.map(String) : (service.command ?? '').split(/\s+/).filter(Boolean);

/** `--name value` or `--name=value` in a command line. */
function option(args: string[], name: string): string | undefined {
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  return args[i] === name ? args[i + 1] : args[i].slice(name.length + 1);
}

function durationSeconds(text: string): number {
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  for (let m = re.exec(text); m; m = re.exec(text)) total += Number(m[1]) * unit[m[2]];
  return total;
}

const DEFAULT_PORTS: Record<string, number> = { 'redis:': 6379, 'rediss:': 6379, 'postgres:': 5432, 'postgresql:': 5432, 'http:': 80, 'https:': 443 };

interface Reference {
  variable: string;
  host: string;
  port: number;
  url?: URL;
}

/** The host:port endpoints an app's env points at (`redis://redis:6379`, `pubsub:8085`, lists). */
function references(env: Record<string, string>): Reference[] {
  const refs: Reference[] = [];
  for (const [variable, value] of Object.entries(env)) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
      try {
        const url = new URL(value);
        refs.push({ variable, host: url.hostname, port: url.port ? Number(url.port) : DEFAULT_PORTS[url.protocol] ?? NaN, url });
      } catch {
        // Not a URL after all; the config loader reports the bad value.
      }
      continue;
    }
    for (const item of value.split(',')) {
      const m = /^([a-z0-9.-]+):(\d+)$/i.exec(item.trim());
      if (m) refs.push({ variable, host: m[1], port: Number(m[2]) });
    }
  }
  return refs;
}

const isLoopback = (host: string): boolean => host === 'localhost' || host.startsWith('127.') || host === '::1' || host === '[::1]';

/** Where each backing service listens inside the compose network, from its image and command. */
function servicePort(name: string, service: ComposeService): number | undefined {
  const args = commandArgs(service);
  if (name === 'redis') return Number(option(args, '--port') ?? 6379);
  if (name === 'postgres') return 5432;
  if (name === 'pubsub') return Number(option(args, '--host-port')?.split(':').pop());
  return undefined;
}

function checkBackingServices(services: Record<string, ComposeService>): string[] {
  const problems: string[] = [];
  const redis = services.redis;
  if (redis) {
    const major = Number(/^redis:(\d+)/.exec(redis.image ?? '')?.[1]);
    if (!(major >= 7)) problems.push(`redis: image ${redis.image} is not Redis 7 or later (sharded pub/sub)`);
    const policy = option(commandArgs(redis), '--maxmemory-policy');
    if (policy !== 'noeviction') problems.push(`redis: maxmemory-policy is ${policy ?? 'the default'}, not noeviction`);
  }
  const pubsub = services.pubsub;
  if (pubsub) {
    if (!/^gcr\.io\/google\.com\/cloudsdktool\/google-cloud-cli:[^ ]*emulators/.test(pubsub.image ?? '')) {
      problems.push(`pubsub: image ${pubsub.image} is not Google's emulator image (google-cloud-cli:*emulators)`);
    }
    const args = commandArgs(pubsub);
    if (!(args.includes('pubsub') && args.includes('start'))) problems.push('pubsub: the command does not start the Pub/Sub emulator');
    const hostPort = option(args, '--host-port');
    if (!hostPort?.startsWith('0.0.0.0:')) problems.push(`pubsub: --host-port is ${hostPort}, the other containers could not reach it`);
    if (!option(args, '--project')) problems.push('pubsub: no --project');
  }
  const postgres = services.postgres;
  if (postgres) {
    if (!/^postgres:\d+/.test(postgres.image ?? '')) problems.push(`postgres: image ${postgres.image} is not postgres:<version>`);
    const env = composeEnv(postgres);
    for (const v of ['POSTGRES_DB', 'POSTGRES_USER', 'POSTGRES_PASSWORD']) if (!env[v]) problems.push(`postgres: ${v} unset`);
  }
  for (const name of ['redis', 'pubsub', 'postgres']) {
    const hc = services[name]?.healthcheck;
    if (services[name] && (!hc?.test || hc.disable)) problems.push(`${name}: no healthcheck, so no app can wait until it serves`);
  }
  return problems;
}

function checkReference(app: AppName, ref: Reference, services: Record<string, ComposeService>, deps: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  const where = `${app}: ${ref.variable}`;
  if (isLoopback(ref.host)) return [`${where} points at ${ref.host}, which inside a container is the app itself`];
  const target = services[ref.host];
  if (!target) return [`${where} points at ${ref.host}, which is no service`];
  if (!(ref.host in deps)) problems.push(`${where} points at ${ref.host}, which is not in depends_on`);
  const port = servicePort(ref.host, target);
  if (port !== undefined && port !== ref.port) problems.push(`${where} uses port ${ref.port}, but ${ref.host} listens on ${port}`);
  if (ref.host === 'postgres' && ref.url) {
    const pg = composeEnv(target);
    const db = ref.url.pathname.replace(/^\//, '');
    if (decodeURIComponent(ref.url.username) !== pg.POSTGRES_USER) problems.push(`${where} user is not POSTGRES_USER`);
    if (decodeURIComponent(ref.url.password) !== pg.POSTGRES_PASSWORD) problems.push(`${where} password is not POSTGRES_PASSWORD`);
    if (db !== pg.POSTGRES_DB) problems.push(`${where} database ${db} is not POSTGRES_DB ${pg.POSTGRES_DB}`);
  }
  return problems;
}

/** The value an app ends up with for one variable: the env's, or the schema's default. */
function effectiveValue(app: AppName, env: Record<string, string>, name: string): unknown {
  try {
    return SCHEMAS[app][name].parse(env[name], name);
  } catch {
    return `invalid: ${env[name]}`;
  }
}

export function checkCompose(compose: Compose): string[] {
  const problems: string[] = [];
  const services = compose.services ?? {};
  for (const name of ['redis', 'pubsub', 'postgres', ...APP_NAMES]) {
    if (!services[name]) problems.push(`service ${name} is missing`);
  }
  problems.push(...checkBackingServices(services));

  const published = new Map<number, string>();
  for (const [name, service] of Object.entries(services)) {
    for (const dep of Object.keys(dependsOn(service))) {
      if (!services[dep]) problems.push(`${name}: depends_on names unknown service ${dep}`);
    }
    for (const [dep, condition] of Object.entries(dependsOn(service))) {
      if (condition && !['service_started', 'service_healthy', 'service_completed_successfully'].includes(condition)) {
        problems.push(`${name}: depends_on ${dep} has unknown condition ${condition}`);
      }
    }
    for (const p of composePorts(service)) {
      const other = published.get(p.published);
      if (other) problems.push(`${name}: host port ${p.published} is published by ${other} too`);
      published.set(p.published, name);
    }
    for (const v of service.volumes ?? []) {
      const source = typeof v === 'string' ? v.split(':')[0] : v.type === 'volume' || v.type === undefined ? v.source : undefined;
      const named = source && !source.startsWith('.') && !source.startsWith('/') && !source.startsWith('~');
      if (named && !(compose.volumes && source in compose.volumes)) problems.push(`${name}: volume ${source} is not declared under volumes`);
    }
  }

  const envs: Partial<Record<AppName, Record<string, string>>> = {};
  for (const app of APP_NAMES) {
    const service = services[app];
    if (!service) continue;
    const build = typeof service.build === 'string' ? { context: service.build } : service.build;
    if (!build) problems.push(`${app}: no build section`);
    else {
      // The one Dockerfile at the root, the app named in APP (dockerfiles.spec.ts checks what it builds).
      if ((build.context ?? '.') !== '.') problems.push(`${app}: build context ${build.context} is not the repository root`);
      const dockerfile = build.dockerfile ?? 'Dockerfile';
      if (dockerfile !== 'Dockerfile') problems.push(`${app}: builds ${dockerfile}, not the repository's Dockerfile`);
      else if (!existsSync(join(ROOT, build.context ?? '.', dockerfile))) problems.push(`${app}: ${dockerfile} does not exist`);
      const args = build.args ?? {};
      if (args.APP !== app) problems.push(`${app}: build arg APP is ${args.APP ?? 'unset'}, not ${app}`);
      const others = Object.keys(args).filter((k) => k !== 'APP');
      if (others.length > 0) problems.push(`${app}: build args ${others.join(', ')} (an app's settings are in its Dockerfile stage)`);
    }
    if ((service.image ?? '').split(':')[0] !== `herald-${app}`) problems.push(`${app}: image ${service.image} is not herald-${app}:<tag> (the k8s base uses herald-${app})`);

    const env = composeEnv(service);
    for (const key of Object.keys(env)) {
      if (!knownTo(app, key)) problems.push(`${app}: env ${key} is not in the ${app} config schema`);
    }
    envs[app] = env;
    try {
      LOADERS[app](Object.fromEntries(Object.entries(env).filter(([k]) => !EXTRA_ENV.has(k))));
    } catch (err) {
      problems.push(`${app}: ${(err as Error).message}`);
    }
    if (env.HOST !== '0.0.0.0') problems.push(`${app}: HOST is ${env.HOST}, the port would not be reachable`);
    if ('REDIS_URL' in SCHEMAS[app] && !env.REDIS_URL && !env.REDIS_CLUSTER_NODES) {
      problems.push(`${app}: neither REDIS_URL nor REDIS_CLUSTER_NODES set (the default is the container itself)`);
    }
    if ('PUBSUB_EMULATOR_HOST' in SCHEMAS[app] && !env.PUBSUB_EMULATOR_HOST) problems.push(`${app}: PUBSUB_EMULATOR_HOST unset (it would try Google Cloud)`);
    if ('DATABASE_URL' in SCHEMAS[app] && !env.DATABASE_URL) problems.push(`${app}: DATABASE_URL unset (embedded Postgres in a container)`);

    const port = env.PORT ? Number(env.PORT) : portOf(app);
    if (port !== portOf(app)) problems.push(`${app}: PORT ${port} differs from the config default ${portOf(app)}`);
    const adminPort = adminPortOf(app);
    if (env.ADMIN_PORT && Number(env.ADMIN_PORT) !== adminPort) problems.push(`${app}: ADMIN_PORT ${env.ADMIN_PORT} differs from the config default ${adminPort}`);
    // Its port, and its admin port (/metrics) where it has one.
    const wanted = [portOf(app), adminPort].filter((p): p is number => p !== undefined);
    const ports = composePorts(service);
    if (ports.length !== wanted.length) problems.push(`${app}: expected ${wanted.length} published port(s), got ${ports.length}`);
    for (const p of ports) {
      if (p.target !== p.published || !wanted.includes(p.target)) {
        problems.push(`${app}: publishes ${p.published}:${p.target}, expected ${wanted.map((w) => `${w}:${w}`).join(' and ')}`);
      }
    }

    const deps = dependsOn(service);
    const refs = references(env);
    for (const ref of refs) problems.push(...checkReference(app, ref, services, deps));
    for (const first of START_AFTER[app] ?? []) {
      if (!(first in deps)) problems.push(`${app}: does not wait for ${first} (see START_AFTER)`);
    }
    for (const [dep, condition] of Object.entries(deps)) {
      const ordered = (START_AFTER[app] ?? []).includes(dep as AppName);
      if (!ordered && !refs.some((r) => r.host === dep)) problems.push(`${app}: depends_on ${dep}, which none of its variables points at`);
      if (condition !== 'service_healthy') problems.push(`${app}: depends_on ${dep} should be service_healthy, is ${condition}`);
    }
    const emulatorProject = services.pubsub ? option(commandArgs(services.pubsub), '--project') : undefined;
    const project = effectiveValue(app, env, 'PUBSUB_PROJECT_ID');
    if (env.PUBSUB_EMULATOR_HOST && project !== emulatorProject) {
      problems.push(`${app}: PUBSUB_PROJECT_ID ${String(project)} is not the emulator's --project ${emulatorProject}`);
    }

    const grace = durationSeconds(service.stop_grace_period ?? '10s');
    const shutdownMs = Number(env.SHUTDOWN_TIMEOUT_MS || shutdownMsOf(app));
    if (!(grace > shutdownMs / 1000)) problems.push(`${app}: stop_grace_period ${grace}s not above SHUTDOWN_TIMEOUT_MS`);
  }

  for (const variable of SHARED_VARIABLES) {
    const readers = APP_NAMES.filter((app) => envs[app] && variable in SCHEMAS[app]);
    const values = new Set(readers.map((app) => JSON.stringify(effectiveValue(app, envs[app]!, variable) ?? null)));
    if (values.size > 1) problems.push(`${readers.join(', ')} disagree on ${variable}`);
  }
  problems.push(
    ...checkComposeExposure(
      Object.entries(services).map(([name, service]) => ({
        name,
        env: rawComposeEnv(service),
        ports: composePorts(service),
        adminPort: isApp(name) ? adminPortOf(name) : undefined,
      })),
    ),
  );
  return problems;
}

