/**
 * The Kubernetes objects the deployment checks read (k8s-checks.ts, kustomization-checks.ts): the
 * parts of each kind they look at, and small helpers over them.
 */
import { isApp, type AppName } from './deploy-config';

export type Labels = Record<string, string>;
export interface KeyRef {
  name: string;
  key: string;
}
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { configMapKeyRef?: KeyRef; secretKeyRef?: KeyRef; fieldRef?: { fieldPath: string } };
}
export interface Probe {
  httpGet?: { path?: string; port?: number | string };
}
export interface Container {
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
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Labels };
  // Each kind reads the parts it needs below.
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}
export interface DeploymentSpec {
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
export interface ServiceSpec {
  type?: string;
  selector?: Labels;
  ports?: { port: number; targetPort?: number | string }[];
}
export interface HpaSpec {
  scaleTargetRef?: { apiVersion?: string; kind?: string; name?: string };
  minReplicas?: number;
  maxReplicas?: number;
  metrics?: { type: string; resource?: { name: string } }[];
}
export interface PdbSpec {
  selector?: { matchLabels?: Labels };
  maxUnavailable?: number | string;
  minAvailable?: number | string;
}
export interface NetworkPolicySpec {
  podSelector?: { matchLabels?: Labels };
  ingress?: { from?: Record<string, unknown>[]; ports?: { port?: number | string }[] }[];
}

export const specOf = <T>(o: K8sObject): T => (o.spec ?? {}) as T;
export const ofKind = (objects: K8sObject[], kind: string): K8sObject[] => objects.filter((o) => o.kind === kind);
export const matches = (selector: Labels | undefined, labels: Labels | undefined): boolean =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

export function appOfDeployment(d: K8sObject): AppName | undefined {
  const name = specOf<DeploymentSpec>(d).template?.metadata?.labels?.['app.kubernetes.io/name'];
  return name && isApp(name) ? name : undefined;
}

