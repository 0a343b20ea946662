/**
 * A small kustomize: renders a kustomization directory the way `kubectl kustomize` does, for the
 * subset of kustomize our k8s/ overlays use, so the deployment tests run on machines without
 * kubectl. Where kubectl exists the tests render with both and expect the same objects.
 *
 * Supported: `resources` (files and directories with their own kustomization), `namespace`,
 * `labels` (metadata labels, optionally pod templates; not selectors), `images`, `replicas`, and
 * `patches` (strategic merge or JSON 6902, from `path` or inline `patch`, with or without a
 * `target` by group/version/kind/name/namespace). Anything else is refused with an error that
 * names the field: a renderer that silently ignored a field would render something kubectl does
 * not, and the tests would check the wrong objects.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

export interface K8sResource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
}

interface PatchTarget {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  resources?: string[];
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }[];
  images?: { name: string; newName?: string; newTag?: string; digest?: string }[];
  replicas?: { name: string; count: number }[];
  patches?: { path?: string; patch?: string; target?: PatchTarget; options?: Record<string, unknown> }[];
}

const SUPPORTED_FIELDS = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'labels', 'images', 'replicas', 'patches']);
const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

/** Kinds without a namespace: the namespace transformer leaves them alone. */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'IngressClass',
  'RuntimeClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'APIService',
]);

/** Kinds whose pod template sits at spec.template. */
const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);
const SCALABLE = new Set(['Deployment', 'StatefulSet', 'ReplicaSet']);

/**
 * The merge key of each list strategic merge patches merge item by item (the Kubernetes API
 * types' `patchMergeKey`); every other list is replaced whole, as in Kubernetes. Port lists are
 * refused: kustomize merges them by port and protocol with rules of its own.
 */
function mergeKeyOf(path: string[]): string | undefined {
  switch (path[path.length - 1]) {
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'env':
    case 'volumes':
    case 'imagePullSecrets':
      return 'name';
    case 'volumeMounts':
      return 'mountPath';
    case 'ports':
      throw new KustomizeError(path.join('.'), 'merging port lists is not supported by this renderer; use a JSON 6902 patch');
    default:
      return undefined;
  }
}

export class KustomizeError extends Error {
  constructor(where: string, problem: string) {
    super(`${where}: ${problem}`);
    this.name = 'KustomizeError';
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const idOf = (r: K8sResource): string => `${r.apiVersion}/${r.kind}/${r.metadata.namespace ?? '~'}/${r.metadata.name}`;

export function parseYamlDocs(text: string, where: string): unknown[] {
  const docs: unknown[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new KustomizeError(where, doc.errors.map((e) => e.message).join('; '));
    const value: unknown = doc.toJSON();
    if (value !== null && value !== undefined) docs.push(value);
  }
  return docs;
}

function loadKustomization(dir: string): Kustomization {
  const file = KUSTOMIZATION_FILES.map((f) => join(dir, f)).find((f) => existsSync(f));
  if (!file) throw new KustomizeError(dir, 'no kustomization.yaml');
  const [doc] = parseYamlDocs(readFileSync(file, 'utf8'), file);
  if (!isObject(doc)) throw new KustomizeError(file, 'is not a mapping');
  for (const field of Object.keys(doc)) {
    if (!SUPPORTED_FIELDS.has(field)) {
      throw new KustomizeError(file, `field "${field}" is not supported by this renderer (tools/dev/test/support/kustomize.ts); extend it`);
    }
  }
  const k = doc as unknown as Kustomization;
  for (const l of k.labels ?? []) {
    if (l.includeSelectors) throw new KustomizeError(file, 'labels with includeSelectors: true are not supported by this renderer');
  }
  for (const p of k.patches ?? []) {
    if (p.options) throw new KustomizeError(file, 'patch options are not supported by this renderer');
    for (const key of Object.keys(p.target ?? {})) {
      if (!['group', 'version', 'kind', 'name', 'namespace'].includes(key)) {
        throw new KustomizeError(file, `patch target field "${key}" is not supported by this renderer`);
      }
    }
  }
  return k;
}

function asResource(doc: unknown, where: string): K8sResource {
  if (!isObject(doc) || typeof doc.apiVersion !== 'string' || typeof doc.kind !== 'string' || !isObject(doc.metadata)) {
    throw new KustomizeError(where, 'a resource needs apiVersion, kind and metadata');
  }
  if (typeof doc.metadata.name !== 'string' || doc.metadata.name === '') throw new KustomizeError(where, 'a resource needs metadata.name');
  return doc as unknown as K8sResource;
}

/** Renders the kustomization in `dir` (an absolute path) to the list of objects it produces. */
export function renderKustomization(dir: string): K8sResource[] {
  const k = loadKustomization(dir);
  let resources: K8sResource[] = [];
  for (const entry of k.resources ?? []) {
    const path = join(dir, entry);
    if (!existsSync(path)) throw new KustomizeError(dir, `resource ${entry} does not exist`);
    if (statSync(path).isDirectory()) resources.push(...renderKustomization(path));
    else resources.push(...parseYamlDocs(readFileSync(path, 'utf8'), path).map((d) => asResource(d, path)));
  }
  const seen = new Set<string>();
  for (const r of resources) {
    if (seen.has(idOf(r))) throw new KustomizeError(dir, `${r.kind} ${r.metadata.name} is defined twice`);
    seen.add(idOf(r));
  }

  // The order kustomize runs its built-in transformers in.
  for (const p of k.patches ?? []) resources = applyPatch(resources, p, dir);
  if (k.namespace) {
    for (const r of resources) if (!CLUSTER_SCOPED.has(r.kind)) r.metadata.namespace = k.namespace;
  }
  for (const l of k.labels ?? []) for (const r of resources) addLabels(r, l.pairs, !!l.includeTemplates);
  for (const rep of k.replicas ?? []) {
    const targets = resources.filter((r) => SCALABLE.has(r.kind) && r.metadata.name === rep.name);
    if (targets.length === 0) throw new KustomizeError(dir, `replicas: no Deployment, StatefulSet or ReplicaSet named ${rep.name}`);
    for (const r of targets) (r.spec as JsonObject).replicas = rep.count;
  }
  for (const image of k.images ?? []) for (const r of resources) setImages(r, image);
  return resources;
}

function addLabels(r: K8sResource, pairs: Record<string, string>, templates: boolean): void {
  r.metadata.labels = { ...r.metadata.labels, ...pairs };
  if (!templates || !WORKLOADS.has(r.kind)) return;
  const template = (r.spec as JsonObject | undefined)?.template;
  if (!isObject(template)) return;
  const metadata = isObject(template.metadata) ? template.metadata : (template.metadata = {});
  metadata.labels = { ...(isObject(metadata.labels) ? metadata.labels : {}), ...pairs };
}

/** `registry:5000/name:tag@sha256:…` → name part and the rest. */
function splitImage(image: string): { name: string; tag?: string; digest?: string } {
  const at = image.indexOf('@');
  const digest = at >= 0 ? image.slice(at + 1) : undefined;
  const ref = at >= 0 ? image.slice(0, at) : image;
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return { name: ref.slice(0, colon), tag: ref.slice(colon + 1), digest };
  return { name: ref, digest };
}

function setImages(r: K8sResource, image: NonNullable<Kustomization['images']>[number]): void {
  const pod = podSpecOf(r);
  if (!pod) return;
  for (const list of ['initContainers', 'containers'] as const) {
    const containers = pod[list];
    if (!Array.isArray(containers)) continue;
    for (const c of containers) {
      if (!isObject(c) || typeof c.image !== 'string') continue;
      const current = splitImage(c.image);
      if (current.name !== image.name) continue;
      const name = image.newName ?? current.name;
      if (image.digest) c.image = `${name}@${image.digest}`;
      else if (image.newTag) c.image = `${name}:${image.newTag}`;
      else c.image = `${name}${current.tag ? `:${current.tag}` : ''}${current.digest ? `@${current.digest}` : ''}`;
    }
  }
}

function podSpecOf(r: K8sResource): JsonObject | undefined {
  const spec = r.spec as JsonObject | undefined;
  if (r.kind === 'Pod') return spec;
  if (r.kind === 'CronJob') {
    const job = isObject(spec?.jobTemplate) ? spec.jobTemplate.spec : undefined;
    const template = isObject(job) ? job.template : undefined;
    return isObject(template) && isObject(template.spec) ? template.spec : undefined;
  }
  const template = spec?.template;
  return isObject(template) && isObject(template.spec) ? template.spec : undefined;
}

// ---------------------------------------------------------------------------------------------
// Patches

function groupVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf('/');
  return i < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

/** Target names and the like are anchored regular expressions in kustomize. */
const fieldMatches = (pattern: string | undefined, value: string | undefined): boolean =>
  pattern === undefined || new RegExp(`^(?:${pattern})$`).test(value ?? '');

function targetMatches(target: PatchTarget, r: K8sResource): boolean {
  const { group, version } = groupVersion(r.apiVersion);
  return (
    fieldMatches(target.group, group) &&
    fieldMatches(target.version, version) &&
    fieldMatches(target.kind, r.kind) &&
    fieldMatches(target.name, r.metadata.name) &&
    fieldMatches(target.namespace, r.metadata.namespace)
  );
}

function applyPatch(resources: K8sResource[], p: NonNullable<Kustomization['patches']>[number], dir: string): K8sResource[] {
  const where = `${dir}: patch ${p.path ?? '(inline)'}`;
  if ((p.path === undefined) === (p.patch === undefined)) throw new KustomizeError(where, 'needs exactly one of path and patch');
  const text = p.path !== undefined ? readFileSync(join(dir, p.path), 'utf8') : (p.patch as string);
  const docs = parseYamlDocs(text, where);
  if (docs.length === 1 && Array.isArray(docs[0])) {
    if (!p.target) throw new KustomizeError(where, 'a JSON 6902 patch needs a target');
    const targets = resources.filter((r) => targetMatches(p.target as PatchTarget, r));
    if (targets.length === 0) throw new KustomizeError(where, 'its target matches no resource');
    return resources.map((r) => (targets.includes(r) ? asResource(jsonPatch(clone(r), docs[0] as Json[], where), where) : r));
  }
  let out = resources;
  for (const doc of docs) {
    if (!isObject(doc)) throw new KustomizeError(where, 'a strategic merge patch must be a mapping');
    const patch = doc as unknown as Partial<K8sResource>;
    const targets = out.filter((r) =>
      p.target
        ? targetMatches(p.target, r)
        : r.kind === patch.kind &&
          r.metadata.name === patch.metadata?.name &&
          groupVersion(r.apiVersion).group === groupVersion(patch.apiVersion ?? '').group &&
          (patch.metadata?.namespace === undefined || patch.metadata.namespace === r.metadata.namespace),
    );
    if (targets.length === 0) throw new KustomizeError(where, `no resource matches ${patch.kind} ${patch.metadata?.name}`);
    if (!p.target && targets.length > 1) throw new KustomizeError(where, `${patch.kind} ${patch.metadata?.name} matches more than one resource`);
    out = out.map((r) => {
      if (!targets.includes(r)) return r;
      // With a target, the patch's own kind and name (often placeholders) are not applied.
      const body = clone(doc);
      if (p.target) {
        delete body.apiVersion;
        delete body.kind;
        if (isObject(body.metadata)) {
          delete body.metadata.name;
          delete body.metadata.namespace;
        }
      }
      return asResource(strategicMerge(clone(r) as unknown as Json, body, []), where);
    });
  }
  return out;
}

/** Kubernetes strategic merge: maps merge, keyed lists merge by key, other lists are replaced. */
export function strategicMerge(original: Json | undefined, patch: Json, path: string[]): Json {
  if (isObject(patch)) {
    const directive = patch.$patch;
    if (directive === 'replace') {
      const rest = { ...patch };
      delete rest.$patch;
      return rest;
    }
    if (directive !== undefined && directive !== 'merge') {
      throw new KustomizeError(path.join('.') || '(root)', `$patch: ${String(directive)} is not supported here`);
    }
    const result: JsonObject = isObject(original) ? { ...original } : {};
    for (const [key, value] of Object.entries(patch)) {
      if (key === '$patch') continue;
      if (key.startsWith('$')) throw new KustomizeError([...path, key].join('.'), 'this patch directive is not supported');
      if (value === null) delete result[key];
      else result[key] = strategicMerge(result[key], value, [...path, key]);
    }
    return result;
  }
  if (Array.isArray(patch)) {
    const key = mergeKeyOf(path);
    if (!key || !Array.isArray(original)) {
      return patch.filter((item) => !(isObject(item) && item.$patch === 'delete'));
    }
    const result = [...original];
    for (const item of patch) {
      if (!isObject(item) || item[key] === undefined) {
        throw new KustomizeError(path.join('.'), `items of this list merge by "${key}"; an item lacks it`);
      }
      const at = result.findIndex((o) => isObject(o) && o[key] === item[key]);
      if (item.$patch === 'delete') {
        if (at >= 0) result.splice(at, 1);
        continue;
      }
      if (at >= 0) result[at] = strategicMerge(result[at], item, [...path, String(item[key])]);
      else result.push(strategicMerge(undefined, item, [...path, String(item[key])]));
    }
    return result;
  }
  return patch;
}

// JSON 6902 (RFC 6902) with JSON pointers (RFC 6901).

function pointer(path: unknown, where: string): string[] {
  if (typeof path !== 'string' || (path !== '' && !path.startsWith('/'))) throw new KustomizeError(where, `bad JSON pointer ${String(path)}`);
  return path === '' ? [] : path.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: Json, parts: string[], where: string): { parent: JsonObject | Json[]; last: string } {
  let node: Json = doc;
  for (const part of parts.slice(0, -1)) {
    const next: Json | undefined = Array.isArray(node) ? node[Number(part)] : isObject(node) ? node[part] : undefined;
    if (next === undefined) throw new KustomizeError(where, `path /${parts.join('/')} does not exist`);
    node = next;
  }
  if (!Array.isArray(node) && !isObject(node)) throw new KustomizeError(where, `path /${parts.join('/')} does not exist`);
  return { parent: node, last: parts[parts.length - 1] };
}

function getAt(doc: Json, parts: string[], where: string): Json {
  if (parts.length === 0) return doc;
  const { parent, last } = parentOf(doc, parts, where);
  const value = Array.isArray(parent) ? parent[Number(last)] : parent[last];
  if (value === undefined) throw new KustomizeError(where, `path /${parts.join('/')} does not exist`);
  return value;
}

function removeAt(doc: Json, parts: string[], where: string): Json {
  const value = getAt(doc, parts, where);
  const { parent, last } = parentOf(doc, parts, where);
  if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else delete parent[last];
  return value;
}

function addAt(doc: Json, parts: string[], value: Json, where: string): Json {
  if (parts.length === 0) return value;
  const { parent, last } = parentOf(doc, parts, where);
  if (Array.isArray(parent)) {
    const i = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(i) || i < 0 || i > parent.length) throw new KustomizeError(where, `index ${last} is out of range`);
    parent.splice(i, 0, value);
  } else {
    parent[last] = value;
  }
  return doc;
}

function jsonPatch(doc: K8sResource, ops: Json[], where: string): Json {
  let result = doc as unknown as Json;
  for (const op of ops) {
    if (!isObject(op)) throw new KustomizeError(where, 'a JSON patch operation must be a mapping');
    const path = pointer(op.path, where);
    switch (op.op) {
      case 'add':
        result = addAt(result, path, clone(op.value), where);
        break;
      case 'remove':
        removeAt(result, path, where);
        break;
      case 'replace':
        getAt(result, path, where);
        if (path.length === 0) result = clone(op.value);
        else {
          removeAt(result, path, where);
          result = addAt(result, path, clone(op.value), where);
        }
        break;
      case 'move':
      case 'copy': {
        const from = pointer(op.from, where);
        const value = op.op === 'move' ? removeAt(result, from, where) : clone(getAt(result, from, where));
        result = addAt(result, path, value, where);
        break;
      }
      case 'test':
        if (JSON.stringify(getAt(result, path, where)) !== JSON.stringify(op.value)) {
          throw new KustomizeError(where, `test of ${String(op.path)} failed`);
        }
        break;
      default:
        throw new KustomizeError(where, `unknown JSON patch operation ${String(op.op)}`);
    }
  }
  return result;
}

/** Objects in a stable order (kind, namespace, name), for comparing two renderings. */
export function sortResources(resources: K8sResource[]): K8sResource[] {
  const key = (r: K8sResource) => `${r.kind}\u0000${r.metadata.namespace ?? ''}\u0000${r.metadata.name}`;
  return [...resources].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
