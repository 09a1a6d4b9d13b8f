import type { KubernetesObject } from '@kubernetes/client-node';
import type { ModelDeployment } from '../api/types.ts';
import { desiredAutoscaler } from './autoscaler.ts';
import { desiredDeployment } from './deployment.ts';
import { desiredDisruptionBudget } from './disruption-budget.ts';
import { nameOf, namespaceOf } from './metadata.ts';
import { desiredNetworkPolicy } from './network-policy.ts';
import type { OperatorOptions } from './options.ts';
import { desiredService } from './service.ts';

/** A kind of object a ModelDeployment owns: what the controller watches, applies and prunes. */
export interface ChildKind {
  group: string;
  version: string;
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: true;
}

const child = (group: string, version: string, kind: string, plural: string): ChildKind => ({
  group, version, apiVersion: group ? `${group}/${version}` : version, kind, plural, namespaced: true,
});

/** In the order they are applied: the Service first, so the endpoint exists before pods turn ready. */
export const childKinds: readonly ChildKind[] = [
  child('', 'v1', 'Service', 'services'),
  child('apps', 'v1', 'Deployment', 'deployments'),
  child('autoscaling', 'v2', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers'),
  child('policy', 'v1', 'PodDisruptionBudget', 'poddisruptionbudgets'),
  child('networking.k8s.io', 'v1', 'NetworkPolicy', 'networkpolicies'),
];

/** Every object the ModelDeployment should own right now, in apply order. */
export function desiredChildren(md: ModelDeployment, options: OperatorOptions): KubernetesObject[] {
  const candidates: (KubernetesObject | undefined)[] = [
    desiredService(md),
    desiredDeployment(md, options),
    desiredAutoscaler(md),
    desiredDisruptionBudget(md),
    desiredNetworkPolicy(md),
  ];
  return candidates.filter((object): object is KubernetesObject => object !== undefined);
}

export interface ChildRef {
  kind: ChildKind;
  namespace: string;
  name: string;
}

/**
 * Children this spec does not want (an HPA after autoscaling was removed, a PDB after scaling
 * down to one replica ...): delete them if they exist and are owned by this ModelDeployment.
 */
export function unwantedChildren(md: ModelDeployment, options: OperatorOptions): ChildRef[] {
  const wanted = new Set(desiredChildren(md, options).map((object) => `${object.apiVersion}/${object.kind}`));
  return childKinds
    .filter((kind) => !wanted.has(`${kind.apiVersion}/${kind.kind}`))
    .map((kind) => ({ kind, namespace: namespaceOf(md), name: nameOf(md) }));
}
