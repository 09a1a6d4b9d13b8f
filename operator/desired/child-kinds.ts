import type { ResourceType } from '../kube/resources.ts';

/** A kind of object a ModelDeployment owns: what the controller watches, applies, prunes and is granted. */
export interface ChildKind extends ResourceType {
  readonly apiVersion: string;
  readonly namespaced: true;
  /**
   * Present only where another project's CRD is installed (Istio, the Prometheus Operator): found by
   * discovery and watched from the moment it appears; its absence never stops the operator.
   */
  readonly optional?: { readonly crd: string; readonly provider: string };
}

function kind(group: string, version: string, kindName: string, plural: string, provider?: string): ChildKind {
  return {
    group,
    version,
    apiVersion: group ? `${group}/${version}` : version,
    kind: kindName,
    plural,
    namespaced: true,
    ...(provider && { optional: { crd: `${plural}.${group}`, provider } }),
  };
}

/**
 * Every kind the operator owns, declared once and in apply order: ControllerRevisions record what
 * each revision is before anything runs it; the Services exist before pods turn ready; routing
 * rules come last, once the subsets they name have pods. Informers, pruning and the Helm chart's
 * RBAC (checked by test/unit/operator/chart.test.ts) all follow this table.
 */
export const ChildKinds = {
  controllerRevision: kind('apps', 'v1', 'ControllerRevision', 'controllerrevisions'),
  service: kind('', 'v1', 'Service', 'services'),
  deployment: kind('apps', 'v1', 'Deployment', 'deployments'),
  horizontalPodAutoscaler: kind('autoscaling', 'v2', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers'),
  podDisruptionBudget: kind('policy', 'v1', 'PodDisruptionBudget', 'poddisruptionbudgets'),
  networkPolicy: kind('networking.k8s.io', 'v1', 'NetworkPolicy', 'networkpolicies'),
  destinationRule: kind('networking.istio.io', 'v1', 'DestinationRule', 'destinationrules', 'Istio'),
  virtualService: kind('networking.istio.io', 'v1', 'VirtualService', 'virtualservices', 'Istio'),
  peerAuthentication: kind('security.istio.io', 'v1', 'PeerAuthentication', 'peerauthentications', 'Istio'),
  prometheusRule: kind('monitoring.coreos.com', 'v1', 'PrometheusRule', 'prometheusrules', 'Prometheus Operator'),
} as const satisfies Record<string, ChildKind>;

export const childKinds: readonly ChildKind[] = Object.values(ChildKinds);

export const childKindKey = (type: Pick<ChildKind, 'apiVersion' | 'kind'>): string => `${type.apiVersion}/${type.kind}`;

export function childKindOf(object: { apiVersion?: string; kind?: string }): ChildKind | undefined {
  return childKinds.find((candidate) => candidate.apiVersion === object.apiVersion && candidate.kind === object.kind);
}

/** apiVersion and kind of a child object, from the table. */
export const typeMeta = (type: ChildKind): { apiVersion: string; kind: string } => ({ apiVersion: type.apiVersion, kind: type.kind });
