/**
 * The deployment artifacts (Dockerfile, docker-compose.yml, k8s/, docs/OPERATIONS.md) against
 * the config schema of libs/config, the source of truth for variable names, ports and the
 * shutdown timeout. Every check is a function returning a list of problems; the "catches"
 * tests feed each one a broken copy to prove it can fail.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { consumerSchema, gatewaySchema, ingestSchema, type Field } from '@herald/config';

const ROOT = resolve(__dirname, '../../..');

type AppName = 'gateway' | 'ingest' | 'exposure-consumer';
const APP_NAMES: AppName[] = ['gateway', 'ingest', 'exposure-consumer'];
type Schema = Record<string, Field<unknown>>;
const SCHEMAS: Record<AppName, Schema> = {
  gateway: gatewaySchema,
  ingest: ingestSchema,
  'exposure-consumer': consumerSchema,
};
/** Read by libraries or the runtime, not by the config schema. */
const EXTRA_ENV = new Set(['METADATA_SERVER_DETECTION', 'NODE_ENV']);
/** The Secret ops create (docs/OPERATIONS.md); manifests only reference it. */
const DOCUMENTED_SECRET = 'herald-secrets';
const DOCUMENTED_SECRET_KEYS = new Set(['AUTH_JWT_SECRET', 'DATABASE_URL']);

function schemaDefault(app: AppName, name: string): unknown {
  return SCHEMAS[app][name].parse(undefined, name);
}
const portOf = (app: AppName): number => schemaDefault(app, 'PORT') as number;
const shutdownMsOf = (app: AppName): number => schemaDefault(app, 'SHUTDOWN_TIMEOUT_MS') as number;
const knownTo = (app: AppName, name: string): boolean => name in SCHEMAS[app] || EXTRA_ENV.has(name);
const isApp = (name: string): name is AppName => (APP_NAMES as string[]).includes(name);

const read = (rel: string): string => readFileSync(join(ROOT, rel), 'utf8');

function parseYamlDocs(text: string, where: string): unknown[] {
  const docs = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${where}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJSON();
    if (value !== null && value !== undefined) docs.push(value);
  }
  return docs;
}

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string; args?: Record<string, string> };
  environment?: Record<string, string | number | null> | string[];
  ports?: (string | number | { target: number; published: number | string })[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  stop_grace_period?: string;
}
interface Compose {
  services: Record<string, ComposeService>;
}

function composeEnv(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((item) => {
      const i = item.indexOf('=');
      return i < 0 ? [item, ''] : [item.slice(0, i), item.slice(i + 1)];
    }));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

function composePorts(service: ComposeService): { published: number; target: number }[] {
  return (service.ports ?? []).map((p) => {
    if (typeof p === 'object') return { published: Number(p.published), target: Number(p.target) };
    const parts = String(p).split('/')[0].split(':');
    const target = Number(parts[parts.length - 1]);
    const published = parts.length > 1 ? Number(parts[parts.length - 2]) : NaN;
    return { published, target };
  });
}

function dependsOn(service: ComposeService): Record<string, string | undefined> {
  const d = service.depends_on ?? [];
  if (Array.isArray(d)) return Object.fromEntries(d.map((name) => [name, undefined]));
  return Object.fromEntries(Object.entries(d).map(([name, v]) => [name, v?.condition]));
}

function durationSeconds(text: string): number {
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  for (let m = re.exec(text); m; m = re.exec(text)) total += Number(m[1]) * unit[m[2]];
  return total;
}

/** Service host names an app reaches through its env (`redis://redis:6379`, `pubsub:8085`). */
function referencedHosts(env: Record<string, string>): Record<string, string> {
  const hosts: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value.includes('${')) continue;
    let host: string | undefined;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
      try {
        host = new URL(value).hostname;
      } catch {
        host = undefined;
      }
    } else if (/^[a-z0-9.-]+:\d+$/i.test(value)) {
      host = value.split(':')[0];
    }
    if (host && !/^\d/.test(host) && host !== 'localhost') hosts[name] = host;
  }
  return hosts;
}

function checkCompose(compose: Compose): string[] {
  const problems: string[] = [];
  const services = compose.services ?? {};
  for (const name of ['redis', 'pubsub', 'postgres', ...APP_NAMES]) {
    if (!services[name]) problems.push(`service ${name} is missing`);
  }
  for (const [name, service] of Object.entries(services)) {
    for (const dep of Object.keys(dependsOn(service))) {
      if (!services[dep]) problems.push(`${name}: depends_on names unknown service ${dep}`);
    }
    for (const [dep, condition] of Object.entries(dependsOn(service))) {
      if (condition && !['service_started', 'service_healthy', 'service_completed_successfully'].includes(condition)) {
        problems.push(`${name}: depends_on ${dep} has unknown condition ${condition}`);
      }
    }
  }
  for (const app of APP_NAMES) {
    const service = services[app];
    if (!service) continue;
    if (service.build?.args?.APP !== app) problems.push(`${app}: build arg APP is ${service.build?.args?.APP}, not ${app}`);
    const dockerfile = join(ROOT, service.build?.context ?? '.', service.build?.dockerfile ?? 'Dockerfile');
    if (!existsSync(dockerfile)) problems.push(`${app}: Dockerfile ${service.build?.dockerfile} does not exist`);

    const env = composeEnv(service);
    for (const key of Object.keys(env)) {
      if (!knownTo(app, key)) problems.push(`${app}: env ${key} is not in the ${app} config schema`);
    }
    if (!env.AUTH_JWT_SECRET && !env.AUTH_JWKS_URL) problems.push(`${app}: neither AUTH_JWT_SECRET nor AUTH_JWKS_URL set`);
    if (env.HOST !== '0.0.0.0') problems.push(`${app}: HOST is ${env.HOST}, the port would not be reachable`);
    if (app === 'exposure-consumer' && !env.DATABASE_URL) problems.push(`${app}: DATABASE_URL unset (embedded Postgres in a container)`);

    const port = env.PORT ? Number(env.PORT) : portOf(app);
    if (port !== portOf(app)) problems.push(`${app}: PORT ${port} differs from the config default ${portOf(app)}`);
    const ports = composePorts(service);
    if (ports.length !== 1) problems.push(`${app}: expected one published port, got ${ports.length}`);
    for (const p of ports) {
      if (p.target !== portOf(app) || p.published !== portOf(app)) {
        problems.push(`${app}: publishes ${p.published}:${p.target}, expected ${portOf(app)}:${portOf(app)}`);
      }
    }

    const deps = dependsOn(service);
    for (const [variable, host] of Object.entries(referencedHosts(env))) {
      if (!services[host]) problems.push(`${app}: ${variable} points at ${host}, which is no service`);
      else if (!(host in deps)) problems.push(`${app}: ${variable} points at ${host}, which is not in depends_on`);
    }
    for (const [dep, condition] of Object.entries(deps)) {
      const wanted = dep === 'pubsub' ? 'service_started' : 'service_healthy';
      if (condition !== wanted) problems.push(`${app}: depends_on ${dep} should be ${wanted}, is ${condition}`);
    }

    const grace = durationSeconds(service.stop_grace_period ?? '10s');
    if (!(grace > shutdownMsOf(app) / 1000)) problems.push(`${app}: stop_grace_period ${grace}s not above SHUTDOWN_TIMEOUT_MS`);
  }
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
  metadata: { name: string; labels?: Labels };
  // Each kind reads the parts it needs below.
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}
interface DeploymentSpec {
  replicas?: number;
  selector?: { matchLabels?: Labels };
  template: {
    metadata?: { labels?: Labels };
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
    const ports = (c.ports ?? []).map((p) => p.containerPort);
    if (ports.length !== 1 || ports[0] !== port) problems.push(`${where}: containerPort ${ports.join(',')} is not ${port}`);

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
      if (cmRef) {
        const data = configMaps.get(cmRef.name);
        if (!data) problems.push(`${where}: env ${e.name} refers to unknown ConfigMap ${cmRef.name}`);
        else if (!(cmRef.key in data)) problems.push(`${where}: env ${e.name} refers to missing key ${cmRef.name}/${cmRef.key}`);
        else if (e.name === 'SHUTDOWN_TIMEOUT_MS') shutdownMs = Number(data[cmRef.key]);
      }
      if (secretRef) {
        const defined = secrets.get(secretRef.name);
        const documented = secretRef.name === DOCUMENTED_SECRET && DOCUMENTED_SECRET_KEYS.has(secretRef.key);
        if (!documented && !(defined && secretRef.key in defined)) {
          problems.push(`${where}: env ${e.name} refers to undocumented secret key ${secretRef.name}/${secretRef.key}`);
        }
      }
      if (e.name === 'SHUTDOWN_TIMEOUT_MS' && e.value !== undefined) shutdownMs = Number(e.value);
      if (e.name === 'PORT' && e.value !== undefined && Number(e.value) !== port) problems.push(`${where}: PORT ${e.value} is not ${port}`);
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
      problems.push(`${where}: read-only root filesystem without a writable /tmp (tsx cache)`);
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
  return problems;
}

function checkGatewayScaling(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const gateway = ofKind(objects, 'Deployment').find((d) => appOfDeployment(d) === 'gateway');
  const podLabels = gateway ? specOf<DeploymentSpec>(gateway).template.metadata?.labels : undefined;
  const pdbs = ofKind(objects, 'PodDisruptionBudget').filter((p) => matches(specOf<PdbSpec>(p).selector?.matchLabels, podLabels));
  if (pdbs.length !== 1) problems.push(`expected one PodDisruptionBudget selecting the gateway pods, found ${pdbs.length}`);
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
    for (const p of mine) {
      for (const rule of specOf<NetworkPolicySpec>(p).ingress ?? []) {
        const ports = (rule.ports ?? []).map((x) => Number(x.port));
        if (ports.length === 0 || ports.some((x) => x !== portOf(app))) {
          problems.push(`NetworkPolicy ${p.metadata.name}: ${app} rule opens ports ${ports.join(',') || 'all'}, expected ${portOf(app)}`);
        }
        const from = rule.from;
        if (app === 'gateway') {
          if (from && from.length > 0) problems.push(`NetworkPolicy ${p.metadata.name}: gateway ingress should be open to all`);
        } else if (!from || from.length === 0 || from.some((peer) => Object.keys(peer).join() !== 'podSelector')) {
          problems.push(`NetworkPolicy ${p.metadata.name}: ${app} ingress must come only from pods of the namespace`);
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
  ...checkConfigAndSecrets(objects),
];

interface Kustomization {
  resources?: string[];
  patches?: { path?: string; patch?: string; target?: Record<string, string> }[];
  patchesStrategicMerge?: string[];
  images?: { name: string; newName?: string; newTag?: string }[];
  replicas?: { name: string; count: number }[];
}

function loadKustomization(dir: string): Kustomization {
  return parse(readFileSync(join(ROOT, dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
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

// ---------------------------------------------------------------------------------------------
// Dockerfile, .dockerignore, docs

function checkDockerfile(text: string): string[] {
  const problems: string[] = [];
  const lines = text.split('\n').map((l) => l.trim());
  const stageStarts = lines.map((l, i) => (/^FROM\s/i.test(l) ? i : -1)).filter((i) => i >= 0);
  const stage = (name: string): string[] | undefined => {
    const start = stageStarts.find((i) => new RegExp(`\\sAS\\s+${name}$`, 'i').test(lines[i]));
    if (start === undefined) return undefined;
    const end = stageStarts.find((i) => i > start) ?? lines.length;
    return lines.slice(start, end);
  };
  if (!/^FROM node:20-bookworm-slim AS base$/m.test(text)) problems.push('base stage is not node:20-bookworm-slim');
  if (!/^FROM app-\$\{APP\}\s*$/m.test(text.split('\n').filter((l) => /^FROM\s/.test(l)).pop() ?? '')) {
    problems.push('the last stage is not FROM app-${APP}');
  }
  for (const app of APP_NAMES) {
    const body = stage(`app-${app}`);
    if (!body) {
      problems.push(`no stage app-${app}`);
      continue;
    }
    if (!/^FROM runtime AS/i.test(body[0])) problems.push(`stage app-${app} does not build on runtime`);
    if (!body.includes(`ENV PORT=${portOf(app)}`)) problems.push(`stage app-${app} does not set PORT=${portOf(app)}`);
    if (!body.includes(`EXPOSE ${portOf(app)}`)) problems.push(`stage app-${app} does not EXPOSE ${portOf(app)}`);
  }
  const runtime = (stage('runtime') ?? []).join('\n');
  if (!/npm ci --omit=dev/.test(runtime)) problems.push('runtime stage does not run npm ci --omit=dev');
  if (!/^USER node$/m.test(runtime)) problems.push('runtime stage does not switch to USER node');
  if (!/NODE_ENV=production/.test(runtime) || !/METADATA_SERVER_DETECTION=none/.test(runtime)) problems.push('runtime ENV incomplete');
  if (!/HEALTHCHECK[\s\S]*fetch\([\s\S]*\/healthz/.test(runtime)) problems.push('no HEALTHCHECK fetching /healthz');
  if (!/^CMD .*node --import tsx/m.test(runtime)) problems.push('CMD does not start node --import tsx');
  for (const m of runtime.matchAll(/^COPY (?!--from)(.+) (\S+)$/gm)) {
    for (const src of m[1].split(/\s+/)) {
      const path = src.replace('${APP}', 'gateway');
      if (!existsSync(join(ROOT, path))) problems.push(`runtime COPY source ${src} does not exist`);
    }
  }
  for (const file of ['tsconfig.json', 'tsconfig.base.json', 'libs/', 'apps/${APP}/']) {
    if (!runtime.includes(file)) problems.push(`runtime stage does not copy ${file}`);
  }
  return problems;
}

/** The Configuration table: `| \`NAME\` | ✓ | ✓ | ✓ | default | meaning |`. */
function checkOperationsDoc(text: string): string[] {
  const problems: string[] = [];
  const rows = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (!m) continue;
    const cells = m[2].split('|').map((c) => c.trim());
    if (cells.length === 5) rows.set(m[1], cells.slice(0, 3));
  }
  const all = new Set(APP_NAMES.flatMap((app) => Object.keys(SCHEMAS[app])));
  for (const name of all) {
    const cells = rows.get(name);
    if (!cells) {
      problems.push(`docs/OPERATIONS.md: ${name} is missing from the configuration table`);
      continue;
    }
    APP_NAMES.forEach((app, i) => {
      if ((cells[i] === '✓') !== name in SCHEMAS[app]) problems.push(`docs/OPERATIONS.md: ${name} column ${app} is wrong`);
    });
  }
  for (const name of rows.keys()) if (!all.has(name)) problems.push(`docs/OPERATIONS.md: ${name} is in no config schema`);
  return problems;
}

// ---------------------------------------------------------------------------------------------

const compose = parse(read('docker-compose.yml')) as Compose;
const base = loadBase();
const overlays = ['k8s/overlays/dev', 'k8s/overlays/prod'];
const hasKubectl = (() => {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const render = (dir: string): K8sObject[] =>
  parseYamlDocs(execFileSync('kubectl', ['kustomize', join(ROOT, dir)], { encoding: 'utf8' }), dir) as K8sObject[];

describe('docker-compose.yml', () => {
  it('matches the config schema, ports and dependencies', () => {
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
});

describe('k8s/base', () => {
  it('lists every manifest it has and only those', () => {
    expect(checkBaseKustomization()).toEqual([]);
  });

  it('Deployments, Services, scaling, policies and config agree with the config schema', () => {
    expect(checkK8s(base)).toEqual([]);
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

  it('catches an open ingest policy, a defined Secret and a missing HPA', () => {
    const broken = clone(base).filter((o) => o.kind !== 'HorizontalPodAutoscaler');
    const np = broken.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'ingest')!;
    specOf<NetworkPolicySpec>(np).ingress = [{ ports: [{ port: 8081 }] }];
    broken.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'herald-secrets' }, stringData: { AUTH_JWT_SECRET: 'x' } });
    const problems = checkK8s(broken).join('\n');
    expect(problems).toMatch(/NetworkPolicy ingest: ingest ingress must come only from pods of the namespace/);
    expect(problems).toMatch(/Secret herald-secrets is defined in the manifests/);
    expect(problems).toMatch(/expected one HorizontalPodAutoscaler for the gateway Deployment, found 0/);
  });
});

describe.each(overlays)('%s', (dir) => {
  it('references existing files, base objects and images', () => {
    expect(checkOverlay(dir, base)).toEqual([]);
  });

  (hasKubectl ? it : it.skip)('renders with kubectl kustomize and still passes every check', () => {
    expect(checkK8s(render(dir))).toEqual([]);
  });
});

describe('overlays', () => {
  it('catches a patch of an object the base does not have', () => {
    const noGateway = base.filter((o) => o.metadata.name !== 'gateway');
    expect(checkOverlay('k8s/overlays/prod', noGateway).join('\n')).toMatch(/targets HorizontalPodAutoscaler\/gateway/);
  });

  (hasKubectl ? it : it.skip)('prod runs more gateways with higher limits than dev', () => {
    const gatewayOf = (objects: K8sObject[]) => ({
      hpa: specOf<HpaSpec>(objects.find((o) => o.kind === 'HorizontalPodAutoscaler' && o.metadata.name === 'gateway')!),
      limits: specOf<DeploymentSpec>(objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'gateway')!).template.spec
        .containers[0].resources!.limits!,
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

describe('Dockerfile', () => {
  it('builds each app on its port, as node, with tsx', () => {
    expect(checkDockerfile(read('Dockerfile'))).toEqual([]);
  });

  it('catches a wrong port and a missing user', () => {
    const broken = read('Dockerfile').replace('EXPOSE 8081', 'EXPOSE 9000').replace('USER node', '');
    const problems = checkDockerfile(broken).join('\n');
    expect(problems).toMatch(/stage app-ingest does not EXPOSE 8081/);
    expect(problems).toMatch(/does not switch to USER node/);
  });

  it('.dockerignore keeps local state out of the context', () => {
    const lines = read('.dockerignore').split('\n').map((l) => l.trim());
    const ignored = (name: string) => lines.includes(name) || lines.includes(`**/${name}`);
    expect(['node_modules', '.nx', '.herald', 'dist', 'coverage', '.git'].filter((n) => !ignored(n))).toEqual([]);
  });
});

describe('docs/OPERATIONS.md', () => {
  it('documents every variable of every app, in the right columns', () => {
    expect(checkOperationsDoc(read('docs/OPERATIONS.md'))).toEqual([]);
  });

  it('catches a missing and a misplaced variable', () => {
    const doc = read('docs/OPERATIONS.md')
      .replace(/^\| `INBOX_CAP`.*\n/m, '')
      .replace(/^\| `REDIS_URL` \| ✓ \| ✓ \| \|/m, '| `REDIS_URL` | ✓ | ✓ | ✓ |');
    const problems = checkOperationsDoc(doc).join('\n');
    expect(problems).toMatch(/INBOX_CAP is missing/);
    expect(problems).toMatch(/REDIS_URL column exposure-consumer is wrong/);
  });
});
