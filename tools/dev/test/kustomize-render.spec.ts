/**
 * The test renderer for kustomizations (support/kustomize.ts), on small fixtures that use every
 * feature it claims: each output is spelled out here, and where kubectl is installed it must be
 * exactly what `kubectl kustomize` renders too. What it does not implement it refuses.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseYamlDocs, renderKustomization, sortResources, type K8sResource } from './support/kustomize';

const hasKubectl = (() => {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'herald-kustomize-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

let fixtures = 0;
/** Writes the files under a new fixture directory and returns it. */
function fixture(files: Record<string, string>): string {
  const dir = join(root, `f${++fixtures}`);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

/** Renders with ours and, where kubectl exists, checks kubectl renders the same. */
function render(dir: string): K8sResource[] {
  const mine = sortResources(renderKustomization(dir));
  if (hasKubectl) {
    const theirs = parseYamlDocs(execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' }), dir) as K8sResource[];
    expect(mine).toEqual(sortResources(theirs));
  }
  return mine;
}

const byName = (objects: K8sResource[], kind: string, name: string): Record<string, any> => // eslint-disable-line @typescript-eslint/no-explicit-any
  objects.find((o) => o.kind === kind && o.metadata.name === name) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: { app: web }
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: web
          image: web-image
          ports: [{ name: http, containerPort: 80 }]
          env:
            - { name: A, value: "1" }
            - { name: B, value: "2" }
          args: ["--one", "--two"]
        - name: sidecar
          image: docker.io/library/sidecar:1.0
      volumes:
        - name: tmp
          emptyDir: {}
`;
const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: { app: web }
  ports: [{ name: http, port: 80, targetPort: http }]
`;
const CONFIG = `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  KEEP: kept
  CHANGE: old
  DROP: dropped
`;
const BASE = {
  'base/kustomization.yaml': `resources: [deployment.yaml, service.yaml, config.yaml]
labels:
  - pairs: { part-of: demo }
`,
  'base/deployment.yaml': DEPLOYMENT,
  'base/service.yaml': SERVICE,
  'base/config.yaml': CONFIG,
};

describe('kustomize renderer', () => {
  it('applies resources, namespace, labels, images and replicas', () => {
    const dir = fixture({
      ...BASE,
      'overlay/kustomization.yaml': `namespace: demo
resources: [namespace.yaml, ../base]
labels:
  - pairs: { env: test }
    includeTemplates: true
images:
  - { name: web-image, newName: registry.example.com/web, newTag: "2.1" }
  - { name: docker.io/library/sidecar, digest: "sha256:${'a'.repeat(64)}" }
replicas:
  - { name: web, count: 3 }
`,
      'overlay/namespace.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n',
    });
    const out = render(join(dir, 'overlay'));
    expect(out.map((o) => `${o.kind}/${o.metadata.namespace ?? '-'}/${o.metadata.name}`)).toEqual([
      'ConfigMap/demo/settings',
      'Deployment/demo/web',
      'Namespace/-/demo',
      'Service/demo/web',
    ]);
    const web = byName(out, 'Deployment', 'web');
    expect(web.metadata.labels).toEqual({ app: 'web', 'part-of': 'demo', env: 'test' });
    expect(web.spec.template.metadata.labels).toEqual({ app: 'web', env: 'test' });
    expect(web.spec.selector).toEqual({ matchLabels: { app: 'web' } });
    expect(web.spec.replicas).toBe(3);
    expect(web.spec.template.spec.containers.map((c: { image: string }) => c.image)).toEqual([
      'registry.example.com/web:2.1',
      `docker.io/library/sidecar@sha256:${'a'.repeat(64)}`,
    ]);
    expect(byName(out, 'Namespace', 'demo').metadata.labels).toEqual({ env: 'test' });
    expect(byName(out, 'Service', 'web').spec.selector).toEqual({ app: 'web' });
  });

  it('merges strategic merge patches the Kubernetes way', () => {
    const dir = fixture({
      ...BASE,
      'overlay/kustomization.yaml': `resources: [../base]
patches:
  - path: web.yaml
  - path: config.yaml
`,
      'overlay/web.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  template:
    spec:
      containers:
        - name: web
          env:
            - { name: B, value: "20" }
            - { name: C, value: "3" }
            - { name: A, $patch: delete }
          args: ["--only"]
          resources: { limits: { cpu: "1" } }
          volumeMounts: [{ name: tmp, mountPath: /tmp }]
        - name: sidecar
          $patch: delete
        - name: extra
          image: extra:1
      volumes:
        - name: tmp
          emptyDir: { sizeLimit: 1Mi }
`,
      'overlay/config.yaml': `apiVersion: v1
kind: ConfigMap
metadata: { name: settings }
data:
  CHANGE: new
  DROP: null
  ADD: added
`,
    });
    const out = render(join(dir, 'overlay'));
    const pod = byName(out, 'Deployment', 'web').spec.template.spec;
    expect(pod.containers).toEqual([
      {
        name: 'web',
        image: 'web-image',
        ports: [{ name: 'http', containerPort: 80 }],
        env: [
          { name: 'B', value: '20' },
          { name: 'C', value: '3' },
        ],
        args: ['--only'],
        resources: { limits: { cpu: '1' } },
        volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
      },
      { name: 'extra', image: 'extra:1' },
    ]);
    expect(pod.volumes).toEqual([{ name: 'tmp', emptyDir: { sizeLimit: '1Mi' } }]);
    expect(byName(out, 'ConfigMap', 'settings').data).toEqual({ KEEP: 'kept', CHANGE: 'new', ADD: 'added' });
  });

  it('applies JSON 6902 patches and targeted strategic patches to every matching object', () => {
    const dir = fixture({
      ...BASE,
      'overlay/kustomization.yaml': `resources: [../base]
patches:
  - target: { kind: Deployment, name: web }
    patch: |
      - op: replace
        path: /spec/template/spec/containers/0/image
        value: other-image
      - op: add
        path: /spec/template/spec/containers/0/env/-
        value: { name: Z, value: "26" }
      - op: remove
        path: /spec/template/spec/containers/1
      - op: test
        path: /metadata/name
        value: web
      - op: copy
        from: /metadata/labels
        path: /metadata/annotations
  - target: { version: v1, kind: Service|ConfigMap }
    patch: |
      apiVersion: v1
      kind: Placeholder
      metadata: { name: any, labels: { patched: "yes" } }
`,
    });
    const out = render(join(dir, 'overlay'));
    const web = byName(out, 'Deployment', 'web');
    expect(web.spec.template.spec.containers).toHaveLength(1);
    expect(web.spec.template.spec.containers[0].image).toBe('other-image');
    expect(web.spec.template.spec.containers[0].env).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: '2' },
      { name: 'Z', value: '26' },
    ]);
    expect(web.metadata.annotations).toEqual({ app: 'web', 'part-of': 'demo' });
    expect(byName(out, 'Service', 'web').metadata.labels).toEqual({ 'part-of': 'demo', patched: 'yes' });
    expect(byName(out, 'ConfigMap', 'settings').metadata.labels).toEqual({ 'part-of': 'demo', patched: 'yes' });
    expect(byName(out, 'Deployment', 'web').metadata.labels).not.toHaveProperty('patched');
  });

  it('refuses kustomization fields and options it does not implement', () => {
    const refused = (kustomization: string): string => {
      const dir = fixture({ ...BASE, 'overlay/kustomization.yaml': kustomization });
      try {
        renderKustomization(join(dir, 'overlay'));
        return 'rendered';
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(refused('resources: [../base]\nnamePrefix: x-\n')).toMatch(/field "namePrefix" is not supported/);
    expect(refused('resources: [../base]\nconfigMapGenerator: [{ name: x, literals: [A=1] }]\n')).toMatch(/field "configMapGenerator" is not supported/);
    expect(refused('resources: [../base]\nlabels: [{ pairs: { a: b }, includeSelectors: true }]\n')).toMatch(/includeSelectors: true are not supported/);
    expect(refused('resources: [../base]\npatches: [{ target: { labelSelector: "a=b" }, patch: "[]" }]\n')).toMatch(/target field "labelSelector" is not supported/);
    expect(refused('resources: [../base]\npatches: [{ patch: "{apiVersion: apps/v1, kind: Deployment, metadata: {name: web}, $retainKeys: []}" }]\n')).toMatch(
      /directive is not supported/,
    );
    expect(refused('resources: [../base]\npatches: [{ patch: "{apiVersion: v1, kind: Service, metadata: {name: web}, spec: {ports: [{port: 9000}]}}" }]\n')).toMatch(
      /merging port lists is not supported/,
    );
  });

  it('fails on patches that match nothing, missing resources and duplicates', () => {
    const failure = (files: Record<string, string>): string => {
      try {
        renderKustomization(join(fixture({ ...BASE, ...files }), 'overlay'));
        return 'rendered';
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(failure({ 'overlay/kustomization.yaml': 'resources: [../base]\npatches: [{ patch: "{apiVersion: apps/v1, kind: Deployment, metadata: {name: nope}}" }]\n' })).toMatch(
      /no resource matches Deployment nope/,
    );
    expect(failure({ 'overlay/kustomization.yaml': 'resources: [../base]\npatches: [{ target: { kind: Job }, patch: "[{op: remove, path: /spec}]" }]\n' })).toMatch(
      /its target matches no resource/,
    );
    expect(failure({ 'overlay/kustomization.yaml': 'resources: [../base, missing.yaml]\n' })).toMatch(/resource missing.yaml does not exist/);
    expect(failure({ 'overlay/kustomization.yaml': 'resources: [../base, again.yaml]\n', 'overlay/again.yaml': SERVICE })).toMatch(/Service web is defined twice/);
    expect(failure({ 'overlay/kustomization.yaml': 'resources: [../base]\nreplicas: [{ name: nope, count: 2 }]\n' })).toMatch(/replicas: no Deployment/);
  });
});
