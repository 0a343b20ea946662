/**
 * The checks of the kustomizations (k8s/base and its overlays) and of what they render, against
 * the config schema (deploy-artifacts.spec.ts): each returns a list of problems, empty when right.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT, read } from './deploy-config';
import { parseYamlDocs } from './kustomize';
import { ofKind, specOf, type DeploymentSpec, type K8sObject } from './k8s-objects';

/** The Secret ops create (docs/OPERATIONS.md); manifests only reference it. */

interface Kustomization {
  namespace?: string;
  resources?: string[];
  patches?: { path?: string; patch?: string; target?: Record<string, string> }[];
  patchesStrategicMerge?: string[];
  images?: { name: string; newName?: string; newTag?: string; digest?: string }[];
  replicas?: { name: string; count: number }[];
}

export function loadKustomization(dir: string): Kustomization {
  return parse(read(join(dir, 'kustomization.yaml'))) as Kustomization;
}

export function loadBase(): K8sObject[] {
  const k = loadKustomization('k8s/base');
  return (k.resources ?? []).flatMap((file) => parseYamlDocs(read(join('k8s/base', file)), file) as K8sObject[]);
}

export function checkBaseKustomization(): string[] {
  const problems: string[] = [];
  const k = loadKustomization('k8s/base');
  const listed = new Set(k.resources ?? []);
  for (const file of listed) if (!existsSync(join(ROOT, 'k8s/base', file))) problems.push(`base: resource ${file} does not exist`);
  for (const file of readdirSync(join(ROOT, 'k8s/base'))) {
    if (/\.ya?ml$/.test(file) && file !== 'kustomization.yaml' && !listed.has(file)) problems.push(`base: ${file} is not listed in resources`);
  }
  return problems;
}

export function checkOverlay(dir: string, base: K8sObject[]): string[] {
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
export function checkRendered(objects: K8sObject[], namespace: string | undefined): string[] {
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

