/**
 * Validates Kubernetes objects against the API's OpenAPI schemas (the `kubernetes-models`
 * package), more strictly than the schemas alone:
 *
 * - the schema: types, required fields, enums, quantities (the package's validators);
 * - unknown fields: the package's schemas accept any extra property, so a typo such as
 *   `readinesProbe` would pass, while `kubectl apply` (strict field validation) refuses it. Each
 *   field is probed: its value is swapped for one of the wrong type, and a field the schema knows
 *   then fails validation while an unknown one does not;
 * - the names and labels the API server checks beyond the schema (DNS-1123 names, label syntax,
 *   port names).
 *
 * Every kind the manifests use must be listed in MODELS; an object of another kind is a problem,
 * not silently skipped.
 */
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: unknown) => Validatable;

const MODELS: Record<string, ModelClass> = {
  'v1/ConfigMap': ConfigMap as unknown as ModelClass,
  'v1/Namespace': Namespace as unknown as ModelClass,
  'v1/Secret': Secret as unknown as ModelClass,
  'v1/Service': Service as unknown as ModelClass,
  'v1/ServiceAccount': ServiceAccount as unknown as ModelClass,
  'apps/v1/Deployment': Deployment as unknown as ModelClass,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler as unknown as ModelClass,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget as unknown as ModelClass,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy as unknown as ModelClass,
  'networking.k8s.io/v1/Ingress': Ingress as unknown as ModelClass,
};

interface SchemaError {
  instancePath: string;
  message?: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
const isObject = (v: unknown): v is { [key: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** The schema's complaints about `data`, as `path message` strings; empty when it is valid. */
function schemaErrors(model: ModelClass, data: unknown): SchemaError[] {
  try {
    new model(data).validate();
    return [];
  } catch (err) {
    const errors = (err as { errors?: SchemaError[] }).errors;
    return errors && errors.length > 0 ? errors : [{ instancePath: '', message: (err as Error).message }];
  }
}

/** Every path to a property of an object inside `value` (array indexes included in the paths). */
function propertyPaths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const paths: (string | number)[][] = [];
  if (Array.isArray(value)) value.forEach((item, i) => paths.push(...propertyPaths(item, [...prefix, i])));
  else if (isObject(value)) {
    for (const [key, child] of Object.entries(value)) {
      paths.push([...prefix, key], ...propertyPaths(child, [...prefix, key]));
    }
  }
  return paths;
}

function setAt(doc: Json, path: (string | number)[], value: Json): void {
  let node = doc as { [key: string]: Json } | Json[];
  for (const part of path.slice(0, -1)) node = (node as Record<string | number, Json>)[part] as { [key: string]: Json } | Json[];
  (node as Record<string | number, Json>)[path[path.length - 1]] = value;
}

function getAt(doc: Json, path: (string | number)[]): Json {
  let node = doc;
  for (const part of path) node = (node as Record<string | number, Json>)[part];
  return node;
}

const toPointer = (path: (string | number)[]): string =>
  path.map((p) => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');

/** Fields of `doc` the schema does not know (it would accept any value for them). */
function unknownFields(model: ModelClass, doc: Json): string[] {
  const unknown: string[] = [];
  for (const path of propertyPaths(doc)) {
    const dotted = path.join('.');
    // Below a field already reported, everything is unknown too.
    if (unknown.some((u) => dotted.startsWith(`${u}.`))) continue;
    const probe = clone(doc);
    const original = getAt(doc, path);
    // A value no typed field accepts: a boolean for everything but booleans, a string for those.
    setAt(probe, path, typeof original === 'boolean' ? 'not-a-boolean' : true);
    const at = toPointer(path);
    const known = schemaErrors(model, probe).some((e) => e.instancePath === at || e.instancePath.startsWith(`${at}/`));
    if (!known) unknown.push(dotted);
  }
  return unknown;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const PORT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function labelProblems(labels: unknown, where: string): string[] {
  if (!isObject(labels)) return [];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(labels)) {
    const slash = key.lastIndexOf('/');
    const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
    const name = slash >= 0 ? key.slice(slash + 1) : key;
    if (prefix !== undefined && !(prefix.length <= 253 && DNS1123_SUBDOMAIN.test(prefix))) problems.push(`${where}: label key ${key} has a bad prefix`);
    if (!(name.length <= 63 && LABEL_NAME.test(name))) problems.push(`${where}: label key ${key} is not a valid label name`);
    if (typeof value !== 'string' || !(value === '' || (value.length <= 63 && LABEL_NAME.test(value)))) {
      problems.push(`${where}: label ${key}=${String(value)} is not a valid label value`);
    }
  }
  return problems;
}

/** What the API server checks beyond the OpenAPI schema, for the fields our manifests use. */
function apiServerProblems(doc: Json, where: string): string[] {
  const problems: string[] = [];
  if (!isObject(doc) || !isObject(doc.metadata)) return problems;
  const name = String(doc.metadata.name ?? '');
  const kind = String(doc.kind);
  // Services and Namespaces become DNS labels; most other objects may be subdomains.
  const [rule, pattern, max] =
    kind === 'Service' ? ['DNS-1035 label', DNS1035_LABEL, 63] : kind === 'Namespace' ? ['DNS-1123 label', DNS1123_LABEL, 63] : ['DNS-1123 subdomain', DNS1123_SUBDOMAIN, 253];
  if (!(name.length <= max && pattern.test(name))) problems.push(`${where}: name "${name}" is not a ${rule}`);
  if (doc.metadata.namespace !== undefined && !DNS1123_LABEL.test(String(doc.metadata.namespace))) {
    problems.push(`${where}: namespace "${String(doc.metadata.namespace)}" is not a DNS-1123 label`);
  }
  problems.push(...labelProblems(doc.metadata.labels, where));
  const spec = isObject(doc.spec) ? doc.spec : {};
  const selector = isObject(spec.selector) ? spec.selector : undefined;
  problems.push(...labelProblems(kind === 'Service' ? selector : selector?.matchLabels, `${where} selector`));
  if (isObject(spec.podSelector)) problems.push(...labelProblems(spec.podSelector.matchLabels, `${where} podSelector`));
  const template = isObject(spec.template) ? spec.template : undefined;
  if (template && isObject(template.metadata)) problems.push(...labelProblems(template.metadata.labels, `${where} pod template`));
  const pod = template && isObject(template.spec) ? template.spec : undefined;
  const containers = pod && Array.isArray(pod.containers) ? pod.containers : [];
  for (const c of containers) {
    if (!isObject(c)) continue;
    if (!DNS1123_LABEL.test(String(c.name))) problems.push(`${where}: container name "${String(c.name)}" is not a DNS-1123 label`);
    for (const p of Array.isArray(c.ports) ? c.ports : []) {
      if (isObject(p) && p.name !== undefined && !(String(p.name).length <= 15 && PORT_NAME.test(String(p.name)) && /[a-z]/.test(String(p.name)))) {
        problems.push(`${where}: port name "${String(p.name)}" is not an IANA service name`);
      }
    }
  }
  const ports = kind === 'Service' && Array.isArray(spec.ports) ? spec.ports : [];
  for (const p of ports) {
    if (isObject(p) && p.name !== undefined && !DNS1123_LABEL.test(String(p.name))) problems.push(`${where}: port name "${String(p.name)}" is not a DNS-1123 label`);
  }
  return problems;
}

/** Problems of every object: unknown kind, schema errors, unknown fields, names and labels. */
export function kubernetesSchemaProblems(objects: unknown[]): string[] {
  const problems: string[] = [];
  for (const object of objects) {
    const doc = clone(object) as Json;
    const kind = isObject(doc) ? String(doc.kind) : '?';
    const name = isObject(doc) && isObject(doc.metadata) ? String(doc.metadata.name) : '?';
    const where = `${kind} ${name}`;
    const model = isObject(doc) ? MODELS[`${String(doc.apiVersion)}/${kind}`] : undefined;
    if (!model) {
      problems.push(`${where}: no schema for apiVersion ${isObject(doc) ? String(doc.apiVersion) : '?'} (add the kind to MODELS in k8s-schema.ts)`);
      continue;
    }
    problems.push(...schemaErrors(model, doc).map((e) => `${where}: ${e.instancePath || '/'} ${e.message ?? 'is invalid'}`));
    problems.push(...unknownFields(model, doc).map((path) => `${where}: unknown field ${path}`));
    problems.push(...apiServerProblems(doc, where));
  }
  return problems;
}
