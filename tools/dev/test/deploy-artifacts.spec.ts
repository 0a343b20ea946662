/**
 * The deployment artifacts (docker-compose.yml, k8s/) against the config schema of libs/config,
 * the source of truth for variable names, values, ports and the shutdown timeout. Every check is
 * a function returning a list of problems; the "catches" tests feed each one a broken copy to
 * prove it can fail. The Kubernetes overlays are rendered by a small kustomize of our own
 * (support/kustomize.ts), compared with `kubectl kustomize` where kubectl is installed, and every
 * rendered object is validated against the Kubernetes schemas (support/k8s-schema.ts).
 * The Dockerfile: dockerfiles.spec.ts; docs/OPERATIONS.md: operations-doc.spec.ts.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  APP_NAMES,
  EXTRA_ENV,
  LOADERS,
  ROOT,
  SCHEMAS,
  adminPortOf,
  clone,
  isApp,
  knownTo,
  portOf,
  read,
  shutdownMsOf,
  valueProblem,
  type AppName,
} from './support/deploy-config';
import { parseYamlDocs, renderKustomization, sortResources, type K8sResource } from './support/kustomize';
import { kubernetesSchemaProblems } from './support/k8s-schema';
import { checkComposeExposure, checkNetworkPolicyDoc, checkPolicyEgress, type ComposeEnvEntry } from './support/deploy-exposure';

/** The Secret ops create (docs/OPERATIONS.md); manifests only reference it. */
const DOCUMENTED_SECRET = 'herald-secrets';
const DOCUMENTED_SECRET_KEYS = new Set(['AUTH_JWT_SECRET', 'DATABASE_URL', 'WEBPUSH_VAPID_PUBLIC_KEY', 'WEBPUSH_VAPID_PRIVATE_KEY', 'WEBPUSH_SUBJECT']);
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

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

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
interface Compose {
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

function checkCompose(compose: Compose): string[] {
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

// ---------------------------------------------------------------------------------------------
// Kubernetes

type Labels = Record<string, string>;
interface KeyRef {
  name: string;
  key: string;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { configMapKeyRef?: KeyRef; secretKeyRef?: KeyRef; fieldRef?: { fieldPath: string } };
}
interface Probe {
  httpGet?: { path?: string; port?: number | string };
}
interface Container {
  name: string;
  image?: string;
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: unknown[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; runAsNonRoot?: boolean };
  lifecycle?: { preStop?: { exec?: { command?: string[] }; sleep?: { seconds: number } } };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Labels };
  // Each kind reads the parts it needs below.
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}
interface DeploymentSpec {
  replicas?: number;
  selector?: { matchLabels?: Labels };
  template: {
    metadata?: { labels?: Labels; annotations?: Record<string, string> };
    spec: {
      containers: Container[];
      terminationGracePeriodSeconds?: number;
      securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
    };
  };
}
interface ServiceSpec {
  type?: string;
  selector?: Labels;
  ports?: { port: number; targetPort?: number | string }[];
}
interface HpaSpec {
  scaleTargetRef?: { apiVersion?: string; kind?: string; name?: string };
  minReplicas?: number;
  maxReplicas?: number;
  metrics?: { type: string; resource?: { name: string } }[];
}
interface PdbSpec {
  selector?: { matchLabels?: Labels };
  maxUnavailable?: number | string;
  minAvailable?: number | string;
}
interface NetworkPolicySpec {
  podSelector?: { matchLabels?: Labels };
  ingress?: { from?: Record<string, unknown>[]; ports?: { port?: number | string }[] }[];
}

const specOf = <T>(o: K8sObject): T => (o.spec ?? {}) as T;
const ofKind = (objects: K8sObject[], kind: string): K8sObject[] => objects.filter((o) => o.kind === kind);
const matches = (selector: Labels | undefined, labels: Labels | undefined): boolean =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

function appOfDeployment(d: K8sObject): AppName | undefined {
  const name = specOf<DeploymentSpec>(d).template?.metadata?.labels?.['app.kubernetes.io/name'];
  return name && isApp(name) ? name : undefined;
}

function preStopSeconds(c: Container): number {
  const pre = c.lifecycle?.preStop;
  if (pre?.sleep) return pre.sleep.seconds;
  const cmd = pre?.exec?.command ?? [];
  return cmd[0] === 'sleep' ? Number(cmd[1]) : 0;
}

function resolvePort(c: Container, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  if (port === undefined) return undefined;
  if (/^\d+$/.test(port)) return Number(port);
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

function checkDeployments(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const deployments = ofKind(objects, 'Deployment');
  const configMaps = new Map(ofKind(objects, 'ConfigMap').map((cm) => [cm.metadata.name, cm.data ?? {}]));
  const secrets = new Map(ofKind(objects, 'Secret').map((s) => [s.metadata.name, { ...s.data, ...s.stringData }]));
  const seen = new Set<AppName>();

  for (const d of deployments) {
    const where = `Deployment ${d.metadata.name}`;
    const spec = specOf<DeploymentSpec>(d);
    const app = appOfDeployment(d);
    if (!app) {
      problems.push(`${where}: pod label app.kubernetes.io/name names no Herald app`);
      continue;
    }
    seen.add(app);
    if (!matches(spec.selector?.matchLabels, spec.template.metadata?.labels)) {
      problems.push(`${where}: selector does not match the pod template labels`);
    }
    const pod = spec.template.spec;
    const containers = pod.containers ?? [];
    const c = containers.find((x) => x.name === app);
    if (!c || containers.length !== 1) {
      problems.push(`${where}: expected one container named ${app}`);
      continue;
    }
    const port = portOf(app);
    const adminPort = adminPortOf(app);
    const ports = (c.ports ?? []).map((p) => p.containerPort);
    const wantedPorts = [port, adminPort].filter((p) => p !== undefined);
    if (ports.join() !== wantedPorts.join()) problems.push(`${where}: containerPort ${ports.join(',')} is not ${wantedPorts.join(',')}`);
    // Prometheus scrapes /metrics where the app serves it: the admin port if it has one.
    const annotations = spec.template.metadata?.annotations ?? {};
    const metricsPort = adminPort ?? port;
    if (annotations['prometheus.io/scrape'] === 'true') {
      if (Number(annotations['prometheus.io/port']) !== metricsPort) problems.push(`${where}: prometheus.io/port ${annotations['prometheus.io/port']} is not ${metricsPort}`);
      if (annotations['prometheus.io/path'] !== '/metrics') problems.push(`${where}: prometheus.io/path is not /metrics`);
    }

    for (const [probe, path] of [
      ['livenessProbe', '/healthz'],
      ['readinessProbe', '/readyz'],
    ] as const) {
      const get = c[probe]?.httpGet;
      if (get?.path !== path) problems.push(`${where}: ${probe} path is ${get?.path}, not ${path}`);
      if (resolvePort(c, get?.port) !== port) problems.push(`${where}: ${probe} port ${get?.port} is not ${port}`);
    }
    if (c.startupProbe) {
      const get = c.startupProbe.httpGet;
      if (get?.path !== '/healthz' || resolvePort(c, get?.port) !== port) problems.push(`${where}: startupProbe not on /healthz:${port}`);
    }

    if (c.envFrom?.length) problems.push(`${where}: envFrom hands the app variables its schema may not know`);
    const env = c.env ?? [];
    const names = env.map((e) => e.name);
    let shutdownMs = shutdownMsOf(app);
    for (const e of env) {
      if (!knownTo(app, e.name)) problems.push(`${where}: env ${e.name} is not in the ${app} config schema`);
      const cmRef = e.valueFrom?.configMapKeyRef;
      const secretRef = e.valueFrom?.secretKeyRef;
      let value = e.value;
      if (cmRef) {
        const data = configMaps.get(cmRef.name);
        if (!data) problems.push(`${where}: env ${e.name} refers to unknown ConfigMap ${cmRef.name}`);
        else if (!(cmRef.key in data)) problems.push(`${where}: env ${e.name} refers to missing key ${cmRef.name}/${cmRef.key}`);
        else value = String(data[cmRef.key]);
      }
      const invalid = value === undefined ? undefined : valueProblem(app, e.name, value);
      if (invalid) problems.push(`${where}: ${invalid}`);
      if (secretRef) {
        const defined = secrets.get(secretRef.name);
        const documented = secretRef.name === DOCUMENTED_SECRET && DOCUMENTED_SECRET_KEYS.has(secretRef.key);
        if (!documented && !(defined && secretRef.key in defined)) {
          problems.push(`${where}: env ${e.name} refers to undocumented secret key ${secretRef.name}/${secretRef.key}`);
        }
      }
      if (e.name === 'SHUTDOWN_TIMEOUT_MS' && value !== undefined) shutdownMs = Number(value);
      if (e.name === 'PORT' && value !== undefined && Number(value) !== port) problems.push(`${where}: PORT ${value} is not ${port}`);
    }
    if (new Set(names).size !== names.length) problems.push(`${where}: an env var is set twice`);
    if (!names.includes('AUTH_JWT_SECRET') && !names.includes('AUTH_JWKS_URL')) problems.push(`${where}: no AUTH_JWT_SECRET or AUTH_JWKS_URL`);
    if (app === 'exposure-consumer' && !names.includes('DATABASE_URL')) problems.push(`${where}: no DATABASE_URL (embedded Postgres in a pod)`);

    const grace = pod.terminationGracePeriodSeconds ?? 30;
    const needed = preStopSeconds(c) + shutdownMs / 1000;
    if (!(grace > needed)) problems.push(`${where}: terminationGracePeriodSeconds ${grace} not above preStop + shutdown (${needed} s)`);

    const nonRoot = c.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
    if (nonRoot !== true) problems.push(`${where}: runAsNonRoot is not true`);
    // The image's USER is a name (node); the kubelet can only check runAsNonRoot with a numeric uid.
    if (!(typeof pod.securityContext?.runAsUser === 'number' && pod.securityContext.runAsUser > 0)) {
      problems.push(`${where}: runAsUser is not a non-zero uid`);
    }
    if (c.securityContext?.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation is not false`);
    if (c.securityContext?.readOnlyRootFilesystem === true && !c.volumeMounts?.some((m) => m.mountPath === '/tmp')) {
      problems.push(`${where}: read-only root filesystem without a writable /tmp (os.tmpdir())`);
    }
    for (const kind of ['requests', 'limits'] as const) {
      const r = c.resources?.[kind];
      if (!r?.cpu || !r?.memory) problems.push(`${where}: resources.${kind} needs cpu and memory`);
    }
  }
  for (const app of APP_NAMES) if (!seen.has(app)) problems.push(`no Deployment for ${app}`);
  return problems;
}

function checkServices(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const deployments = ofKind(objects, 'Deployment');
  const seen = new Set<string>();
  for (const s of ofKind(objects, 'Service')) {
    const where = `Service ${s.metadata.name}`;
    const spec = specOf<ServiceSpec>(s);
    if ((spec.type ?? 'ClusterIP') !== 'ClusterIP') problems.push(`${where}: type ${spec.type}, expected ClusterIP`);
    const target = deployments.find((d) => matches(spec.selector, specOf<DeploymentSpec>(d).template.metadata?.labels));
    if (!target) {
      problems.push(`${where}: selector ${JSON.stringify(spec.selector)} matches no Deployment's pods`);
      continue;
    }
    const app = appOfDeployment(target);
    if (app) seen.add(app);
    const c = specOf<DeploymentSpec>(target).template.spec.containers[0];
    for (const p of spec.ports ?? []) {
      const resolved = resolvePort(c, p.targetPort ?? p.port);
      if (!resolved || !(c.ports ?? []).some((cp) => cp.containerPort === resolved)) {
        problems.push(`${where}: targetPort ${p.targetPort} is no container port of ${target.metadata.name}`);
      }
    }
  }
  for (const app of APP_NAMES) if (!seen.has(app)) problems.push(`no Service for ${app}`);
  // The Service named after the app is the one exposed to clients: never with the admin port.
  for (const app of APP_NAMES) {
    const adminPort = adminPortOf(app);
    if (adminPort === undefined) continue;
    const services = ofKind(objects, 'Service').filter((s) => specOf<ServiceSpec>(s).selector?.['app.kubernetes.io/name'] === app);
    const carriesAdmin = (s: K8sObject) => (specOf<ServiceSpec>(s).ports ?? []).some((p) => p.port === adminPort || p.targetPort === 'admin' || p.targetPort === adminPort);
    for (const s of services.filter((x) => x.metadata.name === app && carriesAdmin(x))) {
      problems.push(`Service ${s.metadata.name}: carries the admin port ${adminPort}; give it a Service of its own`);
    }
    if (!services.some((x) => x.metadata.name !== app && carriesAdmin(x))) problems.push(`no Service for the ${app} admin port ${adminPort} (Prometheus)`);
  }
  return problems;
}

function checkGatewayScaling(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const gateway = ofKind(objects, 'Deployment').find((d) => appOfDeployment(d) === 'gateway');
  const podLabels = gateway ? specOf<DeploymentSpec>(gateway).template.metadata?.labels : undefined;
  const pdbs = ofKind(objects, 'PodDisruptionBudget').filter((p) => matches(specOf<PdbSpec>(p).selector?.matchLabels, podLabels));
  if (pdbs.length !== 1) problems.push(`expected one PodDisruptionBudget selecting the gateway pods, found ${pdbs.length}`);
  const hpa = ofKind(objects, 'HorizontalPodAutoscaler').find((h) => specOf<HpaSpec>(h).scaleTargetRef?.name === gateway?.metadata.name);
  for (const p of pdbs) {
    // A budget that allows no disruption blocks node drains and cluster upgrades for good.
    const { maxUnavailable, minAvailable } = specOf<PdbSpec>(p);
    const least = hpa ? (specOf<HpaSpec>(hpa).minReplicas ?? 1) : 1;
    const blocks =
      maxUnavailable !== undefined
        ? parseFloat(String(maxUnavailable)) <= 0
        : minAvailable !== undefined && (String(minAvailable).endsWith('%') ? parseFloat(String(minAvailable)) >= 100 : Number(minAvailable) >= least);
    if (blocks) problems.push(`PodDisruptionBudget ${p.metadata.name}: allows no voluntary disruption of the gateway`);
  }
  const hpas = ofKind(objects, 'HorizontalPodAutoscaler').filter(
    (h) => specOf<HpaSpec>(h).scaleTargetRef?.name === gateway?.metadata.name && specOf<HpaSpec>(h).scaleTargetRef?.kind === 'Deployment',
  );
  if (hpas.length !== 1) problems.push(`expected one HorizontalPodAutoscaler for the gateway Deployment, found ${hpas.length}`);
  for (const h of hpas) {
    const spec = specOf<HpaSpec>(h);
    if (h.apiVersion !== 'autoscaling/v2') problems.push(`HPA ${h.metadata.name}: apiVersion ${h.apiVersion}, expected autoscaling/v2`);
    if (!spec.metrics?.some((m) => m.type === 'Resource' && m.resource?.name === 'cpu')) problems.push(`HPA ${h.metadata.name}: no CPU metric`);
    if (!(spec.minReplicas && spec.maxReplicas && spec.minReplicas <= spec.maxReplicas)) problems.push(`HPA ${h.metadata.name}: bad min/max replicas`);
  }
  if (gateway && specOf<DeploymentSpec>(gateway).replicas !== undefined) {
    problems.push('gateway Deployment sets replicas although the HPA owns the count');
  }
  return problems;
}

function checkNetworkPolicies(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const policies = ofKind(objects, 'NetworkPolicy');
  for (const d of ofKind(objects, 'Deployment')) {
    const app = appOfDeployment(d);
    if (!app) continue;
    const labels = specOf<DeploymentSpec>(d).template.metadata?.labels;
    const mine = policies.filter((p) => matches(specOf<NetworkPolicySpec>(p).podSelector?.matchLabels, labels));
    if (mine.length === 0) {
      problems.push(`no NetworkPolicy selects the ${app} pods`);
      continue;
    }
    const adminPort = adminPortOf(app);
    for (const p of mine) {
      for (const rule of specOf<NetworkPolicySpec>(p).ingress ?? []) {
        const ports = (rule.ports ?? []).map((x) => Number(x.port));
        const allowed = [portOf(app), adminPort];
        if (ports.length === 0 || ports.some((x) => !allowed.includes(x)) || (ports.includes(portOf(app)) && ports.length > 1)) {
          problems.push(`NetworkPolicy ${p.metadata.name}: ${app} rule opens ports ${ports.join(',') || 'all'}, expected ${portOf(app)}${adminPort ? ` or ${adminPort} alone` : ''}`);
        }
        const from = rule.from;
        const namespaceOnly = !!from && from.length > 0 && from.every((peer) => Object.keys(peer).join() === 'podSelector');
        if (app === 'gateway' && ports.includes(portOf(app))) {
          if (from && from.length > 0) problems.push(`NetworkPolicy ${p.metadata.name}: gateway ingress should be open to all`);
        } else if (!namespaceOnly) {
          const what = adminPort !== undefined && ports.includes(adminPort) ? `${app} admin port` : `${app} ingress`;
          problems.push(`NetworkPolicy ${p.metadata.name}: ${what} must come only from pods of the namespace`);
        }
      }
    }
  }
  return problems;
}

function checkConfigAndSecrets(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const config = ofKind(objects, 'ConfigMap').find((c) => c.metadata.name === 'herald-config');
  if (!config) problems.push('ConfigMap herald-config is missing');
  for (const key of Object.keys(config?.data ?? {})) {
    if (!APP_NAMES.some((app) => knownTo(app, key))) problems.push(`ConfigMap herald-config: ${key} is known to no app`);
  }
  for (const s of ofKind(objects, 'Secret')) problems.push(`Secret ${s.metadata.name} is defined in the manifests; ops create secrets`);
  return problems;
}

const checkK8s = (objects: K8sObject[]): string[] => [
  ...checkDeployments(objects),
  ...checkServices(objects),
  ...checkGatewayScaling(objects),
  ...checkNetworkPolicies(objects),
  ...checkPolicyEgress(objects),
  ...checkConfigAndSecrets(objects),
];

/** The base names each app's image `herald-<app>`, the name the overlays retag and compose builds. */
function checkBaseImages(base: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const d of ofKind(base, 'Deployment')) {
    const app = appOfDeployment(d);
    for (const c of specOf<DeploymentSpec>(d).template.spec.containers ?? []) {
      if (app && c.image !== `herald-${app}`) problems.push(`Deployment ${d.metadata.name}: image ${c.image} is not herald-${app}`);
    }
  }
  return problems;
}

interface Kustomization {
  namespace?: string;
  resources?: string[];
  patches?: { path?: string; patch?: string; target?: Record<string, string> }[];
  patchesStrategicMerge?: string[];
  images?: { name: string; newName?: string; newTag?: string; digest?: string }[];
  replicas?: { name: string; count: number }[];
}

function loadKustomization(dir: string): Kustomization {
  return parse(read(join(dir, 'kustomization.yaml'))) as Kustomization;
}

function loadBase(): K8sObject[] {
  const k = loadKustomization('k8s/base');
  return (k.resources ?? []).flatMap((file) => parseYamlDocs(read(join('k8s/base', file)), file) as K8sObject[]);
}

function checkBaseKustomization(): string[] {
  const problems: string[] = [];
  const k = loadKustomization('k8s/base');
  const listed = new Set(k.resources ?? []);
  for (const file of listed) if (!existsSync(join(ROOT, 'k8s/base', file))) problems.push(`base: resource ${file} does not exist`);
  for (const file of readdirSync(join(ROOT, 'k8s/base'))) {
    if (/\.ya?ml$/.test(file) && file !== 'kustomization.yaml' && !listed.has(file)) problems.push(`base: ${file} is not listed in resources`);
  }
  return problems;
}

function checkOverlay(dir: string, base: K8sObject[]): string[] {
  const problems: string[] = [];
  const k = loadKustomization(dir);
  const exists = (rel: string) => existsSync(join(ROOT, dir, rel));
  for (const r of k.resources ?? []) {
    if (!exists(r)) problems.push(`${dir}: resource ${r} does not exist`);
    else if (statSync(join(ROOT, dir, r)).isDirectory() && !exists(join(r, 'kustomization.yaml'))) {
      problems.push(`${dir}: resource ${r} has no kustomization.yaml`);
    }
  }
  if (!(k.resources ?? []).includes('../../base')) problems.push(`${dir}: does not build on ../../base`);
  const patchFiles = [...(k.patches ?? []).map((p) => p.path), ...(k.patchesStrategicMerge ?? [])].filter((p): p is string => !!p);
  for (const file of patchFiles) {
    if (!exists(file)) {
      problems.push(`${dir}: patch ${file} does not exist`);
      continue;
    }
    for (const patch of parseYamlDocs(read(join(dir, file)), file) as K8sObject[]) {
      if (Array.isArray(patch)) continue; // a JSON 6902 patch: its target is checked by rendering
      if (!base.some((o) => o.kind === patch.kind && o.metadata.name === patch.metadata?.name)) {
        problems.push(`${dir}: patch ${file} targets ${patch.kind}/${patch.metadata?.name}, which the base does not define`);
      }
    }
  }
  const images = new Set(ofKind(base, 'Deployment').flatMap((d) => specOf<DeploymentSpec>(d).template.spec.containers.map((c) => c.image)));
  for (const image of k.images ?? []) if (!images.has(image.name)) problems.push(`${dir}: image ${image.name} is used by no base Deployment`);
  for (const image of images) if (!(k.images ?? []).some((i) => i.name === image)) problems.push(`${dir}: image ${image} gets no tag`);
  for (const r of k.replicas ?? []) {
    if (!ofKind(base, 'Deployment').some((d) => d.metadata.name === r.name)) problems.push(`${dir}: replicas for unknown Deployment ${r.name}`);
    if (r.name === 'gateway') problems.push(`${dir}: gateway replicas belong to its HPA`);
  }
  return problems;
}

/** What an overlay must produce: everything in its namespace, and images a cluster can pull. */
function checkRendered(objects: K8sObject[], namespace: string | undefined): string[] {
  const problems: string[] = [];
  if (!namespace) problems.push('the overlay sets no namespace');
  if (!objects.some((o) => o.kind === 'Namespace' && o.metadata.name === namespace)) problems.push(`no Namespace ${namespace} in the output`);
  for (const o of objects) {
    if (o.kind !== 'Namespace' && o.metadata.namespace !== namespace) {
      problems.push(`${o.kind} ${o.metadata.name} is in namespace ${o.metadata.namespace}, not ${namespace}`);
    }
  }
  for (const d of ofKind(objects, 'Deployment')) {
    for (const c of specOf<DeploymentSpec>(d).template.spec.containers ?? []) {
      const image = c.image ?? '';
      const tag = /:([^/:@]+)$/.exec(image.split('@')[0])?.[1];
      if (!image.includes('/')) problems.push(`Deployment ${d.metadata.name}: image ${image} names no registry`);
      if (!image.includes('@') && (!tag || tag === 'latest')) problems.push(`Deployment ${d.metadata.name}: image ${image} is not pinned to a tag or digest`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------

const compose = parse(read('docker-compose.yml')) as Compose;
const base = loadBase();
const overlays = ['k8s/overlays/dev', 'k8s/overlays/prod'];
/** kubectl is optional: the own renderer always runs; kubectl, where present, must agree with it. */
const hasKubectl = (() => {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const render = (dir: string): K8sObject[] => renderKustomization(join(ROOT, dir)) as unknown as K8sObject[];
const renderWithKubectl = (dir: string): K8sResource[] =>
  parseYamlDocs(execFileSync('kubectl', ['kustomize', join(ROOT, dir)], { encoding: 'utf8' }), dir) as K8sResource[];
const find = (objects: K8sObject[], kind: string, name: string): K8sObject => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
};

describe('docker-compose.yml', () => {
  it('matches the config schema, ports, values and dependencies', () => {
    expect(checkCompose(compose)).toEqual([]);
  });

  it('catches unknown variables, wrong ports, missing services and dependencies', () => {
    const broken = clone(compose);
    const gw = broken.services.gateway;
    (gw.environment as Record<string, string>).DATABASE_URL = 'postgres://x@postgres/x';
    gw.ports = ['9090:8080'];
    (broken.services.ingest.depends_on as Record<string, object>).nosuch = { condition: 'service_healthy' };
    delete (broken.services['exposure-consumer'].depends_on as Record<string, object>).postgres;
    broken.services['exposure-consumer'].stop_grace_period = '5s';
    const problems = checkCompose(broken).join('\n');
    expect(problems).toMatch(/gateway: env DATABASE_URL is not in the gateway config schema/);
    expect(problems).toMatch(/gateway: publishes 9090:8080/);
    expect(problems).toMatch(/ingest: depends_on names unknown service nosuch/);
    expect(problems).toMatch(/exposure-consumer: DATABASE_URL points at postgres, which is not in depends_on/);
    expect(problems).toMatch(/exposure-consumer: stop_grace_period 5s/);
  });

  it('catches bad values, wrong endpoints, credentials and disagreeing apps', () => {
    const broken = clone(compose);
    const env = (app: string) => broken.services[app].environment as Record<string, string>;
    env('gateway').LOG_LEVEL = '${LOG_LEVEL:-verbose}';
    env('gateway').REDIS_URL = 'redis://redis:6380';
    env('ingest').REDIS_URL = 'redis://localhost:6379';
    env('ingest').AUTH_JWT_SECRET = 'short';
    env('exposure-consumer').DATABASE_URL = 'postgres://herald:wrong@postgres:5432/other';
    env('exposure-consumer').EXPOSURE_TOPIC = 'exposures-2';
    delete env('gateway').PUBSUB_EMULATOR_HOST;
    broken.services.gateway.depends_on = { redis: { condition: 'service_started' }, postgres: { condition: 'service_healthy' } };
    (broken.services['exposure-consumer'].depends_on as Record<string, object>).redis = { condition: 'service_healthy' };
    const problems = checkCompose(broken).join('\n');
    expect(problems).toMatch(/gateway: Invalid configuration: LOG_LEVEL must be one of/);
    expect(problems).toMatch(/gateway: REDIS_URL uses port 6380, but redis listens on 6379/);
    expect(problems).toMatch(/ingest: REDIS_URL points at localhost, which inside a container is the app itself/);
    expect(problems).toMatch(/ingest: Invalid configuration: AUTH_JWT_SECRET must be at least 32 bytes/);
    expect(problems).toMatch(/exposure-consumer: DATABASE_URL password is not POSTGRES_PASSWORD/);
    expect(problems).toMatch(/exposure-consumer: DATABASE_URL database other is not POSTGRES_DB herald/);
    expect(problems).toMatch(/gateway, ingest, exposure-consumer disagree on EXPOSURE_TOPIC/);
    expect(problems).toMatch(/gateway: PUBSUB_EMULATOR_HOST unset/);
    expect(problems).toMatch(/gateway: depends_on redis should be service_healthy, is service_started/);
    expect(problems).toMatch(/gateway: depends_on postgres, which none of its variables points at/);
    expect(problems).toMatch(/gateway: does not wait for exposure-consumer/);
    expect(problems).toMatch(/exposure-consumer: depends_on redis, which none of its variables points at/);
  });

  it('catches an evicting Redis, another Pub/Sub image, missing healthchecks and the wrong Dockerfile', () => {
    const broken = clone(compose);
    broken.services.redis.command = ['redis-server', '--maxmemory-policy', 'allkeys-lru'];
    broken.services.pubsub.image = 'example/pubsub-emulator:latest';
    broken.services.pubsub.command = ['gcloud', 'beta', 'emulators', 'pubsub', 'start', '--host-port=0.0.0.0:8086', '--project=other'];
    delete broken.services.postgres.healthcheck;
    broken.services.ingest.build = { context: '.', dockerfile: 'apps/ingest/Dockerfile', args: { APP: 'gateway', PORT: '8081' } };
    broken.services.ingest.image = 'ingest:dev';
    broken.services.ingest.ports = ['8080:8081'];
    broken.services.redis.volumes = ['redis-cache:/data'];
    const problems = checkCompose(broken).join('\n');
    expect(problems).toMatch(/redis: maxmemory-policy is allkeys-lru, not noeviction/);
    expect(problems).toMatch(/pubsub: image example\/pubsub-emulator:latest is not Google's emulator image/);
    expect(problems).toMatch(/gateway: PUBSUB_EMULATOR_HOST uses port 8085, but pubsub listens on 8086/);
    expect(problems).toMatch(/gateway: PUBSUB_PROJECT_ID herald-dev is not the emulator's --project other/);
    expect(problems).toMatch(/postgres: no healthcheck/);
    expect(problems).toMatch(/ingest: builds apps\/ingest\/Dockerfile, not the repository's Dockerfile/);
    expect(problems).toMatch(/ingest: build arg APP is gateway, not ingest/);
    expect(problems).toMatch(/ingest: build args PORT/);
    expect(problems).toMatch(/ingest: image ingest:dev is not herald-ingest:<tag>/);
    expect(problems).toMatch(/ingest: host port 8080 is published by gateway too/);
    expect(problems).toMatch(/redis: volume redis-cache is not declared under volumes/);
  });
});

describe('docker-compose.yml exposure', () => {
  it('catches a shipped secret, ports on every interface and an admin port that follows them', () => {
    const broken = clone(compose);
    const env = (app: string) => broken.services[app].environment as Record<string, string>;
    // As the file was: a default secret anyone can read, ports on 0.0.0.0.
    env('gateway').AUTH_JWT_SECRET = '${AUTH_JWT_SECRET:-change-me-dev-secret-at-least-32-bytes-long}';
    env('ingest').AUTH_JWT_SECRET = 'y'.repeat(40);
    env('exposure-consumer').AUTH_JWT_SECRET = '${AUTH_JWT_SECRET:?required}';
    broken.services.gateway.ports = ['8080:8080', '${HERALD_PUBLISH_ADDRESS:-127.0.0.1}:9080:9080'];
    broken.services.ingest.ports = ['${HERALD_PUBLISH_ADDRESS:-0.0.0.0}:8081:8081'];
    broken.services.redis.ports = ['6379:6379'];
    const problems = checkCompose(broken).join('\n');
    expect(problems).toMatch(/gateway: AUTH_JWT_SECRET ships a value \(\$\{AUTH_JWT_SECRET:-change-me/);
    expect(problems).toMatch(/ingest: AUTH_JWT_SECRET ships a value \(yyyy/);
    expect(problems).toMatch(/exposure-consumer: the message for a missing AUTH_JWT_SECRET does not say how to make one/);
    expect(problems).toMatch(/gateway: publishes 8080 on every interface/);
    expect(problems).toMatch(/gateway: the admin port 9080 must be published on loopback as written, not \$\{HERALD_PUBLISH_ADDRESS:-127.0.0.1\}/);
    expect(problems).toMatch(/ingest: publishes 8081 on 0.0.0.0 by default, not on loopback/);
    expect(problems).toMatch(/redis: publishes 6379 on every interface/);
  });
});

describe('k8s/base', () => {
  it('lists every manifest it has and only those', () => {
    expect(checkBaseKustomization()).toEqual([]);
  });

  it('Deployments, Services, scaling, policies and config agree with the config schema', () => {
    expect([...checkK8s(base), ...checkBaseImages(base)]).toEqual([]);
  });

  it('every object is valid against the Kubernetes schemas, with no unknown field', () => {
    expect(kubernetesSchemaProblems(base)).toEqual([]);
  });

  it('catches wrong ports, probes, env, references, grace periods and selectors', () => {
    const broken = clone(base);
    const dep = (app: AppName) => broken.find((o) => o.kind === 'Deployment' && appOfDeployment(o) === app)!;
    const gw = specOf<DeploymentSpec>(dep('gateway')).template.spec;
    gw.containers[0].ports = [{ name: 'http', containerPort: 9999 }];
    gw.containers[0].readinessProbe = { httpGet: { path: '/healthz', port: 'http' } };
    gw.containers[0].env!.push({ name: 'DATABASE_URL', value: 'postgres://x/y' });
    gw.terminationGracePeriodSeconds = 10;
    const ingest = specOf<DeploymentSpec>(dep('ingest')).template.spec;
    ingest.containers[0].env!.push(
      { name: 'LOG_LEVEL', valueFrom: { configMapKeyRef: { name: 'nope', key: 'LOG_LEVEL' } } },
      { name: 'INBOX_CAP', valueFrom: { secretKeyRef: { name: 'other-secret', key: 'X' } } },
    );
    const svc = broken.find((o) => o.kind === 'Service' && o.metadata.name === 'exposure-consumer')!;
    specOf<ServiceSpec>(svc).selector = { 'app.kubernetes.io/name': 'typo' };
    const problems = checkK8s(broken).join('\n');
    expect(problems).toMatch(/Deployment gateway: containerPort 9999 is not 8080/);
    expect(problems).toMatch(/Deployment gateway: readinessProbe path is \/healthz, not \/readyz/);
    expect(problems).toMatch(/Deployment gateway: env DATABASE_URL is not in the gateway config schema/);
    expect(problems).toMatch(/Deployment gateway: terminationGracePeriodSeconds 10 not above/);
    expect(problems).toMatch(/Deployment ingest: env LOG_LEVEL refers to unknown ConfigMap nope/);
    expect(problems).toMatch(/Deployment ingest: env INBOX_CAP refers to undocumented secret key other-secret\/X/);
    expect(problems).toMatch(/Deployment ingest: an env var is set twice/);
    expect(problems).toMatch(/Service exposure-consumer: selector .* matches no Deployment/);
    expect(problems).toMatch(/no Service for exposure-consumer/);
  });

  it('catches an open ingest policy, a defined Secret, a missing HPA and a blocking budget', () => {
    const broken = clone(base).filter((o) => o.kind !== 'HorizontalPodAutoscaler');
    const np = broken.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'ingest')!;
    specOf<NetworkPolicySpec>(np).ingress = [{ ports: [{ port: 8081 }] }];
    broken.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'herald-secrets' }, stringData: { AUTH_JWT_SECRET: 'x' } });
    specOf<PdbSpec>(find(broken, 'PodDisruptionBudget', 'gateway')).maxUnavailable = 0;
    const problems = checkK8s(broken).join('\n');
    expect(problems).toMatch(/NetworkPolicy ingest: ingest ingress must come only from pods of the namespace/);
    expect(problems).toMatch(/Secret herald-secrets is defined in the manifests/);
    expect(problems).toMatch(/expected one HorizontalPodAutoscaler for the gateway Deployment, found 0/);
    expect(problems).toMatch(/PodDisruptionBudget gateway: allows no voluntary disruption/);
  });

  it('catches an open admin port, metrics scraped from the public port, missing egress limits and unguarded data stores', () => {
    const broken = clone(base);
    const policy = (name: string) => specOf<NetworkPolicySpec & { policyTypes?: string[]; egress?: unknown[] }>(find(broken, 'NetworkPolicy', name));
    const gatewayPolicy = policy('gateway');
    gatewayPolicy.ingress = [{ ports: [{ port: 8080 }] }, { ports: [{ port: 9080 }] }];
    policy('ingest').policyTypes = ['Ingress'];
    delete policy('ingest').egress;
    policy('exposure-consumer').egress!.push({ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }] });
    const postgres = policy('postgres');
    postgres.ingress![0].from!.push({ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'gateway' } } });
    const withoutRedis = broken.filter((o) => !(o.kind === 'NetworkPolicy' && o.metadata.name === 'redis'));
    const gw = specOf<DeploymentSpec>(find(withoutRedis, 'Deployment', 'gateway'));
    gw.template.metadata!.annotations!['prometheus.io/port'] = '8080';
    specOf<ServiceSpec>(find(withoutRedis, 'Service', 'gateway')).ports!.push({ port: 9080, targetPort: 'admin' });
    const problems = checkK8s(withoutRedis).join('\n');
    expect(problems).toMatch(/NetworkPolicy gateway: gateway admin port must come only from pods of the namespace/);
    expect(problems).toMatch(/no NetworkPolicy limits the egress of the ingest pods/);
    expect(problems).toMatch(/NetworkPolicy exposure-consumer: an egress rule without ports lets exposure-consumer reach any port/);
    expect(problems).toMatch(/no NetworkPolicy guards redis/);
    expect(problems).toMatch(/NetworkPolicy postgres: admits exposure-consumer, gateway, expected exposure-consumer/);
    expect(problems).toMatch(/Deployment gateway: prometheus.io\/port 8080 is not 9080/);
    expect(problems).toMatch(/Service gateway: carries the admin port 9080/);
  });

  it('catches config values the schema refuses and a renamed image', () => {
    const broken = clone(base);
    find(broken, 'ConfigMap', 'herald-config').data!.SHUTDOWN_TIMEOUT_MS = 'ten seconds';
    find(broken, 'ConfigMap', 'herald-config').data!.REDIS_URL = 'http://redis:6379';
    specOf<DeploymentSpec>(find(broken, 'Deployment', 'ingest')).template.spec.containers[0].image = 'ingest';
    const problems = [...checkK8s(broken), ...checkBaseImages(broken)].join('\n');
    expect(problems).toMatch(/Deployment gateway: Invalid configuration: SHUTDOWN_TIMEOUT_MS must be a whole number/);
    expect(problems).toMatch(/Deployment ingest: Invalid configuration: REDIS_URL/);
    expect(problems).toMatch(/Deployment ingest: image ingest is not herald-ingest/);
  });

  it('the schema check catches wrong types, unknown fields, bad names and kinds it has no schema for', () => {
    const broken = clone(base) as unknown as Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    const gw = broken.find((o) => o.kind === 'Deployment' && o.metadata.name === 'gateway')!;
    const c = gw.spec.template.spec.containers[0];
    c.ports[0].containerPort = '8080';
    c.readinesProbe = c.readinessProbe;
    gw.spec.template.spec.terminationGracePeriodSecond = 30;
    const hpa = broken.find((o) => o.kind === 'HorizontalPodAutoscaler')!;
    hpa.spec.maxReplicas = 'many';
    const svc = broken.find((o) => o.kind === 'Service' && o.metadata.name === 'ingest')!;
    svc.metadata.name = 'Ingest_API';
    svc.metadata.labels['app.kubernetes.io/name'] = 'not a label value';
    broken.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'stray' }, spec: { containers: [] } });
    const problems = kubernetesSchemaProblems(broken).join('\n');
    expect(problems).toMatch(/Deployment gateway: \/spec\/template\/spec\/containers\/0\/ports\/0\/containerPort must be integer/);
    expect(problems).toMatch(/Deployment gateway: unknown field spec\.template\.spec\.containers\.0\.readinesProbe/);
    expect(problems).toMatch(/Deployment gateway: unknown field spec\.template\.spec\.terminationGracePeriodSecond/);
    expect(problems).toMatch(/HorizontalPodAutoscaler gateway: \/spec\/maxReplicas must be integer/);
    expect(problems).toMatch(/Service Ingest_API: name "Ingest_API" is not a DNS-1035 label/);
    expect(problems).toMatch(/Service Ingest_API: label app\.kubernetes\.io\/name=not a label value is not a valid label value/);
    expect(problems).toMatch(/Pod stray: no schema for apiVersion v1/);
  });
});

describe('docs/SECURITY.md', () => {
  const doc = read('docs/SECURITY.md');

  it('names exactly the NetworkPolicies k8s/base defines, and claims none it lacks', () => {
    expect(checkNetworkPolicyDoc(doc, base)).toEqual([]);
  });

  it('catches a policy named but not defined, one defined but not named, and a claim about Redis without one', () => {
    const withoutStores = base.filter((o) => !(o.kind === 'NetworkPolicy' && ['redis', 'postgres'].includes(o.metadata.name)));
    const problems = checkNetworkPolicyDoc(doc.replace(/^\| `ingest` \|/m, '| `ingest-api` |'), withoutStores).join('\n');
    expect(problems).toMatch(/SECURITY.md names NetworkPolicy ingest-api, which k8s\/base does not define/);
    expect(problems).toMatch(/SECURITY.md names NetworkPolicy redis, which k8s\/base does not define/);
    expect(problems).toMatch(/NetworkPolicy ingest is not in SECURITY.md's table/);
    const claim = '# Security\n\nNetwork isolation: the `k8s/` NetworkPolicy restricts who may reach Redis, Postgres and the apps.\n';
    const claimed = checkNetworkPolicyDoc(claim, withoutStores).join('\n');
    expect(claimed).toMatch(/no "## Network policies" section/);
    expect(claimed).toMatch(/says a NetworkPolicy covers redis, but k8s\/base has none selecting redis pods/);
    expect(claimed).toMatch(/says a NetworkPolicy covers postgres/);
  });
});

describe.each(overlays)('%s', (dir) => {
  it('references existing files, base objects and images', () => {
    expect(checkOverlay(dir, base)).toEqual([]);
  });

  it('renders, and the output passes every check', () => {
    const objects = render(dir);
    expect([...checkK8s(objects), ...checkRendered(objects, loadKustomization(dir).namespace)]).toEqual([]);
  });

  it('every rendered object is valid against the Kubernetes schemas, with no unknown field', () => {
    expect(kubernetesSchemaProblems(render(dir))).toEqual([]);
  });

  it('renders exactly what `kubectl kustomize` renders, where kubectl is installed', () => {
    const mine = sortResources(render(dir) as unknown as K8sResource[]);
    expect(mine.map((o) => o.kind)).toEqual(expect.arrayContaining(['Namespace', 'ConfigMap', 'Deployment', 'Service', 'HorizontalPodAutoscaler']));
    // Without kubectl the renderer's own tests (kustomize-render.spec.ts) vouch for it.
    if (hasKubectl) expect(mine).toEqual(sortResources(renderWithKubectl(dir)));
  });
});

describe('overlays', () => {
  it('catches a patch of an object the base does not have', () => {
    const noGateway = base.filter((o) => o.metadata.name !== 'gateway');
    expect(checkOverlay('k8s/overlays/prod', noGateway).join('\n')).toMatch(/targets HorizontalPodAutoscaler\/gateway/);
  });

  it('catches objects outside the namespace and unpinned images', () => {
    const broken = clone(render('k8s/overlays/prod'));
    delete find(broken, 'Service', 'ingest').metadata.namespace;
    specOf<DeploymentSpec>(find(broken, 'Deployment', 'gateway')).template.spec.containers[0].image = 'registry.example.com/herald/gateway:latest';
    specOf<DeploymentSpec>(find(broken, 'Deployment', 'ingest')).template.spec.containers[0].image = 'herald-ingest';
    const problems = checkRendered(broken, 'herald').join('\n');
    expect(problems).toMatch(/Service ingest is in namespace undefined, not herald/);
    expect(problems).toMatch(/Deployment gateway: image registry.example.com\/herald\/gateway:latest is not pinned/);
    expect(problems).toMatch(/Deployment ingest: image herald-ingest names no registry/);
    expect(checkRendered(broken, 'elsewhere').join('\n')).toMatch(/no Namespace elsewhere in the output/);
  });

  it('prod runs more gateways with higher limits than dev', () => {
    const gatewayOf = (objects: K8sObject[]) => ({
      hpa: specOf<HpaSpec>(find(objects, 'HorizontalPodAutoscaler', 'gateway')),
      limits: specOf<DeploymentSpec>(find(objects, 'Deployment', 'gateway')).template.spec.containers[0].resources!.limits!,
    });
    const cpu = (q: string | number) => (String(q).endsWith('m') ? parseFloat(String(q)) / 1000 : Number(q));
    const mem = (q: string | number) => {
      const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi)?$/.exec(String(q));
      return m ? Number(m[1]) * ({ Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }[m[2] ?? ''] ?? 1) : NaN;
    };
    const dev = gatewayOf(render('k8s/overlays/dev'));
    const prod = gatewayOf(render('k8s/overlays/prod'));
    expect(prod.hpa.minReplicas!).toBeGreaterThan(dev.hpa.minReplicas!);
    expect(prod.hpa.maxReplicas!).toBeGreaterThan(dev.hpa.maxReplicas!);
    expect(cpu(prod.limits.cpu)).toBeGreaterThan(cpu(dev.limits.cpu));
    expect(mem(prod.limits.memory)).toBeGreaterThan(mem(dev.limits.memory));
  });
});
