/**
 * The checks of the Kubernetes objects (k8s/base, and each overlay as rendered) against the config
 * schema (deploy-artifacts.spec.ts): deployments, services, scaling, network policies, config and
 * secrets, images. Each returns a list of problems, empty when they are right.
 */
import {
  APP_NAMES,
  adminPortOf,
  knownTo,
  portOf,
  shutdownMsOf,
  valueProblem,
  type AppName,
} from './deploy-config';
import { checkPolicyEgress } from './deploy-exposure';
import {
  appOfDeployment,
  matches,
  ofKind,
  specOf,
  type Container,
  type DeploymentSpec,
  type HpaSpec,
  type K8sObject,
  type NetworkPolicySpec,
  type PdbSpec,
  type ServiceSpec,
} from './k8s-objects';

/** The Secret ops create (docs/OPERATIONS.md); manifests only reference it. */
const DOCUMENTED_SECRET = 'herald-secrets';
const DOCUMENTED_SECRET_KEYS = new Set(['AUTH_JWT_SECRET', 'DATABASE_URL', 'WEBPUSH_VAPID_PUBLIC_KEY', 'WEBPUSH_VAPID_PRIVATE_KEY', 'WEBPUSH_SUBJECT']);


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

export const checkK8s = (objects: K8sObject[]): string[] => [
  ...checkDeployments(objects),
  ...checkServices(objects),
  ...checkGatewayScaling(objects),
  ...checkNetworkPolicies(objects),
  ...checkPolicyEgress(objects),
  ...checkConfigAndSecrets(objects),
];

/** The base names each app's image `herald-<app>`, the name the overlays retag and compose builds. */
export function checkBaseImages(base: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const d of ofKind(base, 'Deployment')) {
    const app = appOfDeployment(d);
    for (const c of specOf<DeploymentSpec>(d).template.spec.containers ?? []) {
      if (app && c.image !== `herald-${app}`) problems.push(`Deployment ${d.metadata.name}: image ${c.image} is not herald-${app}`);
    }
  }
  return problems;
}
