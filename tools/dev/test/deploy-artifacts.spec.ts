/**
 * The deployment artifacts (docker-compose.yml, k8s/) against the config schema of libs/config,
 * the source of truth for variable names, values, ports and the shutdown timeout. Every check is
 * a function returning a list of problems; the "catches" tests feed each one a broken copy to
 * prove it can fail. The Kubernetes overlays are rendered by a small kustomize of our own
 * (support/kustomize.ts), compared with `kubectl kustomize` where kubectl is installed, and every
 * rendered object is validated against the Kubernetes schemas (support/k8s-schema.ts).
 * The checks: support/compose-checks.ts, support/k8s-checks.ts (the objects, support/k8s-objects.ts),
 * support/kustomization-checks.ts. The Dockerfile: dockerfiles.spec.ts; docs/OPERATIONS.md:
 * operations-doc.spec.ts.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT, clone, read, type AppName } from './support/deploy-config';
import { parseYamlDocs, renderKustomization, sortResources, type K8sResource } from './support/kustomize';
import { kubernetesSchemaProblems } from './support/k8s-schema';
import { checkNetworkPolicyDoc } from './support/deploy-exposure';
import { checkCompose, type Compose } from './support/compose-checks';
import { checkBaseImages, checkK8s } from './support/k8s-checks';
import {
  appOfDeployment,
  specOf,
  type DeploymentSpec,
  type HpaSpec,
  type K8sObject,
  type NetworkPolicySpec,
  type PdbSpec,
  type ServiceSpec,
} from './support/k8s-objects';
import { checkBaseKustomization, checkOverlay, checkRendered, loadBase, loadKustomization } from './support/kustomization-checks';


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
