/**
 * What the deployment artifacts expose, and to whom (docs/SECURITY.md): compose ships no secret
 * and publishes on loopback, the admin port (/metrics) stays inside, every app's pods have an
 * egress policy limited to the ports of what they use, a Redis or Postgres in the namespace is
 * reachable only by the apps that use it, and SECURITY.md names exactly the NetworkPolicies the
 * manifests define. Each check returns a list of problems (deploy-artifacts.spec.ts runs them).
 */
import { APP_NAMES, SCHEMAS, type AppName } from './deploy-config';

export type ComposeEnvEntry = [name: string, rawValue: string];

export interface ComposeServiceView {
  name: string;
  /** The environment as written, before interpolation. */
  env: ComposeEnvEntry[];
  /** `hostIp` after interpolation with the defaults (undefined: every interface), `rawHostIp` as written. */
  ports: { published: number; target: number; hostIp?: string; rawHostIp?: string }[];
  /** The app's ADMIN_PORT default, for an app that has one. */
  adminPort?: number;
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|::1|\[::1\])$/;
/** `${AUTH_JWT_SECRET:?message}`: compose refuses to start without a secret and prints the message. */
const REQUIRED_SECRET = /^\$\{AUTH_JWT_SECRET:\?([^}]*)\}$/;

export function checkComposeExposure(services: ComposeServiceView[]): string[] {
  const problems: string[] = [];
  for (const s of services) {
    for (const [name, raw] of s.env) {
      if (name !== 'AUTH_JWT_SECRET') continue;
      const required = REQUIRED_SECRET.exec(raw.trim());
      if (!required) problems.push(`${s.name}: AUTH_JWT_SECRET ships a value (${raw}); use \${AUTH_JWT_SECRET:?…} so compose refuses to start without one`);
      else if (!/openssl rand/.test(required[1])) problems.push(`${s.name}: the message for a missing AUTH_JWT_SECRET does not say how to make one`);
    }
    for (const p of s.ports) {
      if (p.hostIp === undefined) problems.push(`${s.name}: publishes ${p.published} on every interface; bind it to 127.0.0.1 by default`);
      else if (!LOOPBACK.test(p.hostIp)) problems.push(`${s.name}: publishes ${p.published} on ${p.hostIp} by default, not on loopback`);
      if (s.adminPort !== undefined && p.target === s.adminPort && !(p.rawHostIp !== undefined && LOOPBACK.test(p.rawHostIp))) {
        problems.push(`${s.name}: the admin port ${p.target} must be published on loopback as written, not ${p.rawHostIp ?? 'every interface'}`);
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// NetworkPolicies

type Labels = Record<string, string>;
interface Peer {
  podSelector?: { matchLabels?: Labels };
  namespaceSelector?: unknown;
  ipBlock?: unknown;
}
interface Rule {
  from?: Peer[];
  to?: Peer[];
  ports?: { protocol?: string; port?: number | string }[];
}
interface PolicySpec {
  podSelector?: { matchLabels?: Labels };
  policyTypes?: string[];
  ingress?: Rule[];
  egress?: Rule[];
}
export interface PolicyObject {
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
}

const DNS_PORT = 53;
/** Data stores run outside the manifests, the variable that points an app at each, and its port. */
const STORES = [
  { name: 'redis', variable: 'REDIS_URL', port: 6379 },
  { name: 'postgres', variable: 'DATABASE_URL', port: 5432 },
] as const;
/** Pub/Sub (Google's API) and a JWKS endpoint: HTTPS. */
const HTTPS_PORT = 443;

/** The ports an app must reach, from its config schema: DNS, its data stores, HTTPS. */
export function egressPortsOf(app: AppName): number[] {
  const schema = SCHEMAS[app];
  const ports = [DNS_PORT, ...STORES.filter((s) => s.variable in schema).map((s) => s.port)];
  if ('PUBSUB_PROJECT_ID' in schema || 'AUTH_JWKS_URL' in schema) ports.push(HTTPS_PORT);
  return ports.sort((a, b) => a - b);
}

const specOf = (o: PolicyObject): PolicySpec => (o.spec ?? {}) as PolicySpec;
const selects = (selector: Labels | undefined, name: string): boolean => selector?.['app.kubernetes.io/name'] === name;
const policiesFor = (objects: PolicyObject[], name: string): PolicyObject[] =>
  objects.filter((o) => o.kind === 'NetworkPolicy' && selects(specOf(o).podSelector?.matchLabels, name));

/** Every app's pods: egress limited to the ports of what it uses; Redis and Postgres: only their apps. */
export function checkPolicyEgress(objects: PolicyObject[]): string[] {
  const problems: string[] = [];
  for (const app of APP_NAMES) {
    const mine = policiesFor(objects, app).filter((p) => specOf(p).policyTypes?.includes('Egress'));
    if (mine.length === 0) {
      problems.push(`no NetworkPolicy limits the egress of the ${app} pods`);
      continue;
    }
    const opened = new Set<number>();
    for (const p of mine) {
      for (const rule of specOf(p).egress ?? []) {
        if (!rule.ports?.length) problems.push(`NetworkPolicy ${p.metadata.name}: an egress rule without ports lets ${app} reach any port`);
        for (const port of rule.ports ?? []) opened.add(Number(port.port));
      }
    }
    const wanted = egressPortsOf(app);
    const got = [...opened].sort((a, b) => a - b);
    if (got.join() !== wanted.join()) problems.push(`NetworkPolicy for ${app}: egress opens ports ${got.join(',') || 'none'}, expected ${wanted.join(',')}`);
  }
  for (const store of STORES) {
    const users = APP_NAMES.filter((app) => store.variable in SCHEMAS[app]);
    const mine = policiesFor(objects, store.name);
    if (mine.length === 0) problems.push(`no NetworkPolicy guards ${store.name} (pods labelled app.kubernetes.io/name=${store.name})`);
    for (const p of mine) {
      const spec = specOf(p);
      if (!spec.policyTypes?.includes('Ingress')) problems.push(`NetworkPolicy ${p.metadata.name}: does not restrict ingress`);
      const admitted = new Set<string>();
      for (const rule of spec.ingress ?? []) {
        const ports = (rule.ports ?? []).map((x) => Number(x.port));
        if (ports.join() !== String(store.port)) problems.push(`NetworkPolicy ${p.metadata.name}: opens ports ${ports.join(',') || 'all'}, expected ${store.port}`);
        for (const peer of rule.from ?? []) {
          const name = peer.podSelector?.matchLabels?.['app.kubernetes.io/name'];
          if (Object.keys(peer).join() !== 'podSelector' || !name) problems.push(`NetworkPolicy ${p.metadata.name}: admits ${JSON.stringify(peer)}, not one app's pods`);
          else admitted.add(name);
        }
        if (!rule.from?.length) problems.push(`NetworkPolicy ${p.metadata.name}: a rule admits anyone`);
      }
      const expected = [...users].sort().join(', ');
      if ([...admitted].sort().join(', ') !== expected) problems.push(`NetworkPolicy ${p.metadata.name}: admits ${[...admitted].sort().join(', ') || 'nobody'}, expected ${expected}`);
    }
  }
  return problems;
}

/**
 * SECURITY.md's "Network policies" table names every NetworkPolicy (first column, in backticks)
 * and no other; and no paragraph says a NetworkPolicy restricts Redis or Postgres unless one does.
 */
export function checkNetworkPolicyDoc(doc: string, objects: PolicyObject[]): string[] {
  const problems: string[] = [];
  const defined = new Set(objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.metadata.name));
  const section = /^## Network policies\b[^\n]*\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(doc)?.[1];
  if (!section) problems.push('SECURITY.md has no "## Network policies" section naming the policies');
  const named = new Set([...(section ?? '').matchAll(/^\|\s*`([a-z0-9-]+)`\s*\|/gm)].map((m) => m[1]));
  for (const name of named) if (!defined.has(name)) problems.push(`SECURITY.md names NetworkPolicy ${name}, which k8s/base does not define`);
  for (const name of defined) if (section && !named.has(name)) problems.push(`NetworkPolicy ${name} is not in SECURITY.md's table`);
  for (const paragraph of doc.split(/\n\s*\n/)) {
    if (!/NetworkPolic/i.test(paragraph)) continue;
    for (const store of STORES) {
      if (new RegExp(`\\b${store.name}\\b`, 'i').test(paragraph) && policiesFor(objects, store.name).length === 0) {
        problems.push(`SECURITY.md says a NetworkPolicy covers ${store.name}, but k8s/base has none selecting ${store.name} pods`);
      }
    }
  }
  return problems;
}
