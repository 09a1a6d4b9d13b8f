import { childKind, childKindKey, type ChildKind } from './child-kind.ts';
import { autoscalerKinds } from './autoscaling/registry.ts';
import { routerKinds } from './routing/registry.ts';

export { childKindKey, typeMeta, type ChildKind } from './child-kind.ts';

/** The kinds every ModelDeployment may own, whatever routes its traffic. */
export const ChildKinds = {
  controllerRevision: childKind('apps', 'v1', 'ControllerRevision', 'controllerrevisions'),
  service: childKind('', 'v1', 'Service', 'services'),
  /** The slice that leads a scaled-to-zero model's Service to the activator. */
  endpointSlice: childKind('discovery.k8s.io', 'v1', 'EndpointSlice', 'endpointslices'),
  deployment: childKind('apps', 'v1', 'Deployment', 'deployments'),
  podDisruptionBudget: childKind('policy', 'v1', 'PodDisruptionBudget', 'poddisruptionbudgets'),
  networkPolicy: childKind('networking.k8s.io', 'v1', 'NetworkPolicy', 'networkpolicies'),
  prometheusRule: childKind('monitoring.coreos.com', 'v1', 'PrometheusRule', 'prometheusrules', { provider: 'Prometheus Operator' }),
} as const satisfies Record<string, ChildKind>;

/**
 * Every kind the operator owns, in apply order: ControllerRevisions record what each revision is
 * before anything runs it; the Services exist before pods turn ready; the autoscalers' kinds
 * (autoscaling/registry.ts) follow the Deployments they scale; the traffic routers' kinds
 * (routing/registry.ts) come after the workloads, once the revisions they name have pods.
 * Informers, pruning and the Helm chart's RBAC (checked by test/unit/operator/chart.test.ts) all
 * follow this list.
 */
export const childKinds: readonly ChildKind[] = [
  ChildKinds.controllerRevision,
  ChildKinds.service,
  ChildKinds.endpointSlice,
  ChildKinds.deployment,
  ...autoscalerKinds,
  ChildKinds.podDisruptionBudget,
  ChildKinds.networkPolicy,
  ...routerKinds,
  ChildKinds.prometheusRule,
];

export function childKindOf(object: { apiVersion?: string; kind?: string }): ChildKind | undefined {
  return childKinds.find((candidate) => candidate.apiVersion === object.apiVersion && candidate.kind === object.kind);
}

const applyOrder = new Map(childKinds.map((kind, i) => [childKindKey(kind), i]));

/** Objects sorted into the registry's apply order, keeping the given order within a kind. */
export function inApplyOrder<T extends { apiVersion?: string; kind?: string }>(objects: readonly T[]): T[] {
  const rank = (object: T) => applyOrder.get(`${object.apiVersion}/${object.kind}`) ?? childKinds.length;
  return objects.map((object, i) => ({ object, i })).sort((a, b) => rank(a.object) - rank(b.object) || a.i - b.i).map(({ object }) => object);
}
